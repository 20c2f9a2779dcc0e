"""Outbox, consumers and request/reply against a real NATS JetStream server and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import msgspec
import pytest

from libs.database import Database
from libs.events import (
    Consumer,
    Delivery,
    NatsConnection,
    OutboxRelay,
    PoisonMessage,
    RpcError,
    RpcServer,
    RpcUnavailable,
    StreamSpec,
    enqueue_event,
    ensure_stream,
    list_dead_letters,
    new_event,
    request,
)
from libs.logging import bound_request_id, current_request_id


class Item(msgspec.Struct, frozen=True):
    n: int


def unique_stream() -> StreamSpec:
    tag = uuid.uuid4().hex[:8]
    return StreamSpec(f"T{tag.upper()}", (f"t{tag}.>",))


async def wait_until(predicate: object, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


def make_consumer(
    db: Database, nats: NatsConnection, stream: StreamSpec, handler: object, **kwargs: object
) -> Consumer[Item]:
    return Consumer(
        db=db,
        nats=nats,
        stream=stream.name,
        durable=f"c{uuid.uuid4().hex[:8]}",
        subjects=[stream.subjects[0]],
        data_type=Item,
        handler=handler,  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


async def test_outbox_survives_crash_between_commit_and_publish(db: Database, nats: NatsConnection) -> None:
    stream = unique_stream()
    await ensure_stream(nats.js, stream)
    subject = stream.subjects[0].replace(">", "item")
    # The "crash": events are committed with no relay running to publish them.
    async with db.transaction() as conn:
        for n in range(50):
            await enqueue_event(conn, subject, new_event("item", Item(n)))
    # Rolled-back work must never be published.
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await enqueue_event(conn, subject, new_event("item", Item(999)))
            raise RuntimeError("rollback")

    seen: Counter[int] = Counter()

    async def handler(delivery: Delivery[Item]) -> None:
        seen[delivery.event.data.n] += 1

    consumer = make_consumer(db, nats, stream, handler)
    await consumer.start()
    # A new process comes up: the relay finds the committed rows and publishes them.
    relay = OutboxRelay(db, nats, poll_interval=0.2)
    relay.start()
    try:
        await wait_until(lambda: len(seen) == 50)
        await asyncio.sleep(0.5)
    finally:
        await relay.stop()
        await consumer.stop()
    assert seen == Counter(range(50))
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0


async def test_request_id_follows_the_event_into_the_consumer(db: Database, nats: NatsConnection) -> None:
    """The id bound while a request enqueues an event is bound again while a consumer handles it
    (outbox row -> `X-Request-ID` NATS header -> consumer's log context), so one id follows the work."""
    stream = unique_stream()
    await ensure_stream(nats.js, stream)
    subject = stream.subjects[0].replace(">", "traced")
    with bound_request_id("trace-7f3a"):
        async with db.transaction() as conn:
            await enqueue_event(conn, subject, new_event("item", Item(1)))
    async with db.transaction() as conn:  # enqueued outside any request: a fresh id, not the last one
        await enqueue_event(conn, subject, new_event("item", Item(2)))
    seen: dict[int, tuple[str | None, str | None]] = {}

    async def handler(delivery: Delivery[Item]) -> None:
        seen[delivery.event.data.n] = (current_request_id(), delivery.event.correlation_id)

    consumer = make_consumer(db, nats, stream, handler)
    await consumer.start()
    relay = OutboxRelay(db, nats, poll_interval=0.2)
    relay.start()
    try:
        await wait_until(lambda: len(seen) == 2)
    finally:
        await relay.stop()
        await consumer.stop()
    assert seen[1] == ("trace-7f3a", "trace-7f3a")
    bound, carried = seen[2]
    assert carried is None
    assert bound
    assert bound != "trace-7f3a"


async def test_crash_after_publish_before_mark_is_not_duplicated(db: Database, nats: NatsConnection) -> None:
    stream = unique_stream()
    await ensure_stream(nats.js, stream)
    subject = stream.subjects[0].replace(">", "item")
    async with db.transaction() as conn:
        for n in range(10):
            await enqueue_event(conn, subject, new_event("item", Item(n)))
    relay = OutboxRelay(db, nats)
    assert await relay.publish_pending() == 10
    # Simulate dying before the rows were marked sent: the next relay publishes them all again.
    await db.execute("UPDATE outbox SET sent_at = NULL")
    assert await relay.publish_pending() == 10
    info = await nats.js.stream_info(stream.name)
    assert info.state.messages == 10  # Nats-Msg-Id de-duplicated the second publish

    seen: Counter[int] = Counter()

    async def handler(delivery: Delivery[Item]) -> None:
        seen[delivery.event.data.n] += 1

    consumer = make_consumer(db, nats, stream, handler)
    await consumer.start()
    try:
        await wait_until(lambda: len(seen) == 10)
    finally:
        await consumer.stop()
    assert set(seen.values()) == {1}


async def test_relay_wakes_on_notify_without_polling(db: Database, nats: NatsConnection) -> None:
    stream = unique_stream()
    await ensure_stream(nats.js, stream)
    relay = OutboxRelay(db, nats, poll_interval=30.0)
    relay.start()
    try:
        await asyncio.sleep(0.3)
        async with db.transaction() as conn:
            await enqueue_event(conn, stream.subjects[0].replace(">", "x"), new_event("x", Item(1)))
        await wait_until(lambda: relay.published == 1, timeout=5)
    finally:
        await relay.stop()


async def test_failing_handler_is_redelivered_then_dead_lettered(db: Database, nats: NatsConnection) -> None:
    stream = unique_stream()
    await ensure_stream(nats.js, stream)
    subject = stream.subjects[0].replace(">", "item")
    attempts: Counter[int] = Counter()
    done: list[int] = []

    async def handler(delivery: Delivery[Item]) -> None:
        attempts[delivery.event.data.n] += 1
        if delivery.event.data.n == 0:
            raise ValueError("always fails")
        done.append(delivery.event.data.n)

    consumer = make_consumer(db, nats, stream, handler, max_deliver=3, backoff=(0.1, 0.1, 0.1))
    await consumer.start()
    try:
        await nats.js.publish(subject, msgspec.json.encode(new_event("item", Item(0))))
        await nats.js.publish(subject, msgspec.json.encode(new_event("item", Item(1))))
        await wait_until(lambda: 1 in done)
        letters: list[object] = []

        async def collect() -> None:
            letters[:] = await list_dead_letters(db, consumer=consumer.durable)

        for _ in range(100):
            await collect()
            if letters:
                break
            await asyncio.sleep(0.1)
    finally:
        await consumer.stop()
    assert attempts[0] == 3
    assert attempts[1] == 1
    [letter] = await list_dead_letters(db, consumer=consumer.durable)
    assert letter.attempts == 3
    assert "always fails" in letter.error


async def test_poison_message_is_dead_lettered_at_once_and_does_not_block(db: Database, nats: NatsConnection) -> None:
    stream = unique_stream()
    await ensure_stream(nats.js, stream)
    subject = stream.subjects[0].replace(">", "item")
    handled: list[int] = []

    async def handler(delivery: Delivery[Item]) -> None:
        if delivery.event.data.n < 0:
            raise PoisonMessage("negative items cannot exist")
        handled.append(delivery.event.data.n)

    consumer = make_consumer(db, nats, stream, handler, max_deliver=5)
    await consumer.start()
    try:
        await nats.js.publish(subject, b"{not json")
        await nats.js.publish(subject, msgspec.json.encode(new_event("item", Item(-1))))
        await nats.js.publish(subject, msgspec.json.encode(new_event("item", Item(7))))
        await wait_until(lambda: handled == [7])
        await asyncio.sleep(0.3)
    finally:
        await consumer.stop()
    letters = await list_dead_letters(db, consumer=consumer.durable)
    assert len(letters) == 2
    assert {letter.attempts for letter in letters} == {1}
    assert any("undecodable" in letter.error for letter in letters)


async def test_redelivered_event_is_handled_once(db: Database, nats: NatsConnection) -> None:
    stream = unique_stream()
    await ensure_stream(nats.js, stream)
    subject = stream.subjects[0].replace(">", "item")
    event = new_event("item", Item(5))
    calls: list[int] = []

    async def handler(delivery: Delivery[Item]) -> None:
        calls.append(delivery.event.data.n)

    consumer = make_consumer(db, nats, stream, handler)
    await consumer.start()
    try:
        # Same event id twice, outside JetStream's dedup (different message ids): processed table catches it.
        await nats.js.publish(subject, msgspec.json.encode(event), headers={"Nats-Msg-Id": "a"})
        await nats.js.publish(subject, msgspec.json.encode(event), headers={"Nats-Msg-Id": "b"})
        await wait_until(lambda: bool(calls))
        await asyncio.sleep(0.5)
    finally:
        await consumer.stop()
    assert calls == [5]


class Ask(msgspec.Struct, frozen=True):
    n: int


class Answer(msgspec.Struct, frozen=True):
    double: int


async def test_request_reply(nats: NatsConnection) -> None:
    subject = f"t{uuid.uuid4().hex[:8]}.double"

    async def double(req: Ask) -> Answer:
        if req.n < 0:
            raise RpcError("negative", "no negatives")
        return Answer(req.n * 2)

    server = RpcServer(nats, subject, Ask, double)
    await server.start()
    try:
        assert await request(nats, subject, Ask(21), Answer) == Answer(42)
        with pytest.raises(RpcError) as err:
            await request(nats, subject, Ask(-1), Answer)
        assert err.value.code == "negative"
        with pytest.raises(RpcError) as bad:
            await request(nats, subject, {"n": "x"}, Answer)
        assert bad.value.code == "bad_request"
    finally:
        await server.stop()
    with pytest.raises(RpcUnavailable):
        await request(nats, subject, Ask(1), Answer, timeout=0.5)

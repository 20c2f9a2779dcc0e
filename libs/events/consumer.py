"""Durable JetStream pull consumers with explicit acks, back-off, dead letters and idempotency.

Policy for each delivered message:
- the payload does not decode, or the handler raises `PoisonMessage`, or the database refuses the
  message's values (`asyncpg.DataError`: a NUL in a text, a number out of range) -> dead letter + `term`;
- the event id is in `processed_messages` -> `ack` without calling the handler again;
- the handler returns -> record the id as processed, then `ack`;
- the handler raises anything else -> `nak` with the next back-off delay, until `max_deliver`
  attempts are used up -> dead letter + `term`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
import msgspec
import nats
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from libs.database import Database
from libs.events.connection import NATS_UNAVAILABLE_ERRORS, NatsConnection
from libs.events.envelope import Envelope
from libs.logging import bound_request_id, get_logger, request_id_from_headers

log = get_logger(__name__)
T = TypeVar("T")
_RESUBSCRIBE: tuple[type[Exception], ...] = (*NATS_UNAVAILABLE_ERRORS, nats.js.errors.NotFoundError)


class TransientError(Exception):
    """Try again later (e.g. a dependency is down); counts as an attempt."""


class PoisonMessage(Exception):
    """This message can never succeed (corrupt input): dead-letter it now."""


@dataclass(slots=True)
class Delivery(Generic[T]):
    """One delivered event and the means to keep it alive while working on it."""

    event: Envelope[T]
    attempt: int
    subject: str
    msg: Msg

    async def in_progress(self) -> None:
        """Reset the ack timer: long jobs call this so the message is not redelivered meanwhile."""
        with contextlib.suppress(*NATS_UNAVAILABLE_ERRORS):
            await self.msg.in_progress()


Handler = Callable[[Delivery[T]], Awaitable[None]]


class Consumer(Generic[T]):
    """A durable pull consumer bound to a stream and a subject filter."""

    def __init__(
        self,
        *,
        db: Database,
        nats: NatsConnection,
        stream: str,
        durable: str,
        subjects: Sequence[str],
        data_type: type[T],
        handler: Handler[T],
        max_deliver: int = 5,
        backoff: Sequence[float] = (1.0, 5.0, 15.0, 30.0, 60.0),
        ack_wait: float = 30.0,
        batch: int = 10,
        concurrency: int = 1,
        max_ack_pending: int | None = None,
    ) -> None:
        self._db = db
        self._nats = nats
        self.stream = stream
        self.durable = durable
        self.subjects = list(subjects)
        self._decoder = msgspec.json.Decoder(Envelope[data_type])  # type: ignore[valid-type]
        self._handler = handler
        self.max_deliver = max_deliver
        self._backoff = list(backoff)
        self._ack_wait = ack_wait
        self._batch = batch
        self._concurrency = concurrency
        self._max_ack_pending = max_ack_pending
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def _config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self._ack_wait,
            max_deliver=self.max_deliver,
            filter_subject=self.subjects[0] if len(self.subjects) == 1 else None,
            filter_subjects=self.subjects if len(self.subjects) > 1 else None,
            max_ack_pending=self._max_ack_pending,
        )

    async def start(self) -> None:
        self._stopping.clear()
        for i in range(self._concurrency):
            self._tasks.append(asyncio.create_task(self._run(), name=f"consumer-{self.durable}-{i}"))

    async def stop(self, *, grace: float = 10.0) -> None:
        """Stop fetching, give in-flight messages `grace` seconds, then cancel (they are redelivered)."""
        self._stopping.set()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout=grace)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            # A fetch interrupted by cancellation surfaces as nats' TimeoutError: both mean "stopped".
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await task
        self._tasks.clear()

    async def _subscribe(self) -> Any:
        js = self._nats.js
        with contextlib.suppress(nats.js.errors.BadRequestError):
            await js.add_consumer(self.stream, self._config())
        return await js.pull_subscribe_bind(self.durable, stream=self.stream)

    async def _run(self) -> None:
        sub: Any = None
        while not self._stopping.is_set():
            try:
                if sub is None:
                    sub = await self._subscribe()
                msgs = await sub.fetch(self._batch, timeout=1.0)
            except TimeoutError:
                # No message within the wait (nats-py raises both its own and the builtin TimeoutError).
                continue
            except _RESUBSCRIBE as exc:
                log.warning("consumer waiting for nats", durable=self.durable, reason=type(exc).__name__)
                sub = None
                await asyncio.sleep(1.0)
                continue
            except Exception:
                # A consumer must never die quietly: log, re-subscribe, carry on.
                log.exception("consumer fetch failed", durable=self.durable)
                sub = None
                await asyncio.sleep(1.0)
                continue
            for msg in msgs:
                if self._stopping.is_set():
                    # Hand it back at once so another replica takes it.
                    with contextlib.suppress(*NATS_UNAVAILABLE_ERRORS):
                        await msg.nak()
                    continue
                self._inflight += 1
                self._idle.clear()
                try:
                    await self.handle(msg)
                except Exception:
                    # Never let one message end the loop: it is redelivered after `ack_wait`.
                    log.exception("message handling failed", durable=self.durable, subject=msg.subject)
                finally:
                    self._inflight -= 1
                    if self._inflight == 0:
                        self._idle.set()

    def _delay(self, attempt: int) -> float:
        return self._backoff[min(attempt - 1, len(self._backoff) - 1)]

    async def handle(self, msg: Msg) -> None:
        attempt = msg.metadata.num_delivered if msg.reply else 1
        rid = request_id_from_headers(msg.headers)
        with bound_request_id(rid):
            try:
                event = self._decoder.decode(msg.data)
            except msgspec.DecodeError as exc:
                await self._dead_letter(msg, None, f"undecodable message: {exc}", attempt)
                return
            try:
                if await self._already_processed(event):
                    await msg.ack()
                    return
                await self._handler(Delivery(event=event, attempt=attempt, subject=msg.subject, msg=msg))
                await self._mark_processed(event)
                await msg.ack()
            except PoisonMessage as exc:
                await self._dead_letter(msg, event, f"poison: {exc}", attempt)
            except asyncpg.exceptions.DataError as exc:
                # The same values are refused on every redelivery: retrying only delays the dead letter.
                await self._dead_letter(
                    msg, event, f"poison: the database refuses its data: {type(exc).__name__}: {exc}", attempt
                )
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await msg.nak()
                raise
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if attempt >= self.max_deliver:
                    await self._dead_letter(msg, event, f"gave up after {attempt} attempts: {reason}", attempt)
                    return
                delay = self._delay(attempt)
                log.warning(
                    "handler failed, will retry",
                    durable=self.durable,
                    event_id=str(event.id),
                    attempt=attempt,
                    retry_in=delay,
                    error=reason[:300],
                    exc_info=not isinstance(exc, TransientError),
                )
                with contextlib.suppress(*NATS_UNAVAILABLE_ERRORS):
                    await msg.nak(delay=delay)

    async def _already_processed(self, event: Envelope[Any]) -> bool:
        row = await self._db.fetchval(
            "SELECT 1 FROM processed_messages WHERE consumer = $1 AND event_id = $2", self.durable, event.id
        )
        return row is not None

    async def _mark_processed(self, event: Envelope[Any]) -> None:
        await self._db.execute(
            "INSERT INTO processed_messages (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            self.durable,
            event.id,
        )

    async def _dead_letter(self, msg: Msg, event: Envelope[Any] | None, error: str, attempt: int) -> None:
        seq = msg.metadata.sequence.stream if msg.reply else None
        log.error("message dead-lettered", durable=self.durable, subject=msg.subject, error=error[:300])
        try:
            await self._db.execute(
                "INSERT INTO dead_letters (consumer, subject, stream_seq, event_id, payload, error, attempts)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                self.durable,
                msg.subject,
                seq,
                event.id if event else None,
                msg.data,
                error[:2000],
                attempt,
            )
        except Exception:
            # Without a record a person could see, giving up would lose the message: retry later instead.
            log.exception("dead letter could not be recorded; message will be redelivered", durable=self.durable)
            with contextlib.suppress(*NATS_UNAVAILABLE_ERRORS):
                await msg.nak(delay=self._delay(attempt))
            return
        with contextlib.suppress(*NATS_UNAVAILABLE_ERRORS):
            await msg.term()


class DeadLetter(msgspec.Struct, frozen=True):
    id: int
    consumer: str
    subject: str
    stream_seq: int | None
    event_id: str | None
    error: str
    attempts: int
    created_at: str
    payload: str


async def list_dead_letters(db: Database, *, consumer: str | None = None, limit: int = 100) -> list[DeadLetter]:
    """The dead letters of a service, newest first, for a person to inspect."""
    rows = await db.fetch(
        "SELECT id, consumer, subject, stream_seq, event_id, payload, error, attempts, created_at"
        " FROM dead_letters WHERE ($1::text IS NULL OR consumer = $1) ORDER BY id DESC LIMIT $2",
        consumer,
        limit,
    )
    return [
        DeadLetter(
            id=r["id"],
            consumer=r["consumer"],
            subject=r["subject"],
            stream_seq=r["stream_seq"],
            event_id=str(r["event_id"]) if r["event_id"] else None,
            error=r["error"],
            attempts=r["attempts"],
            created_at=r["created_at"].isoformat(),
            payload=bytes(r["payload"])[:4096].decode("utf-8", "replace"),
        )
        for r in rows
    ]

"""Push a job's progress over a WebSocket: live from NATS, checked against the database.

Used by the sonic and audit WebSocket routes. NATS events are best effort, so when none arrives
for a while the job's row is read again; the socket closes once the job reaches a final state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from nats.aio.msg import Msg

from libs.events import NatsConnection

Update = dict[str, Any]


async def stream_job_updates(
    socket: WebSocket[Any, Any, Any],
    *,
    nats: NatsConnection,
    subjects: Iterable[str],
    decode: Callable[[Msg], Update | None],
    current: Callable[[], Awaitable[Update]],
    final: frozenset[str],
    poll_seconds: float = 5.0,
) -> None:
    """`decode` turns a NATS message into an update for this job (None if it is about another);
    `current` reads the job's state; every update has at least `status`, `progress` and `stage`."""
    updates: asyncio.Queue[Update] = asyncio.Queue()

    async def on_message(msg: Msg) -> None:
        with contextlib.suppress(Exception):
            update = decode(msg)
            if update is not None:
                updates.put_nowait(update)

    subscriptions = [await nats.nc.subscribe(subject, cb=on_message) for subject in subjects]
    try:
        last = await current()
        await socket.send_json(last)
        while last["status"] not in final:
            try:
                update = await asyncio.wait_for(updates.get(), timeout=poll_seconds)
            except TimeoutError:
                update = await current()
            if update.get("progress") is None:
                update["progress"] = last.get("progress")
            if update != last:
                await socket.send_json(update)
                last = update
        await socket.close(code=1000)
    except WebSocketDisconnect:
        pass
    finally:
        for sub in subscriptions:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

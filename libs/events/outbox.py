"""The transactional outbox: nothing is lost between a database commit and a publish.

`enqueue_event` writes the event into the service's `outbox` table inside the caller's
transaction and notifies the relay. `OutboxRelay` publishes unsent rows to JetStream with
`Nats-Msg-Id` set to the event id, then marks them sent. A crash between publish and mark
re-publishes the same id, which JetStream's duplicate window drops, and consumers are
idempotent on top of that.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
import msgspec

from libs.database import Database, DatabaseUnavailable
from libs.database.pool import CONNECTION_ERRORS
from libs.events.connection import NATS_UNAVAILABLE_ERRORS, NatsConnection
from libs.events.envelope import Envelope
from libs.logging import REQUEST_ID_HEADER, get_logger

log = get_logger(__name__)
_encoder = msgspec.json.Encoder()
_RETRYABLE: tuple[type[Exception], ...] = (DatabaseUnavailable, *CONNECTION_ERRORS, *NATS_UNAVAILABLE_ERRORS)


def notify_channel(schema: str) -> str:
    return f"{schema}_outbox"


async def enqueue_event(conn: asyncpg.Connection, subject: str, event: Envelope[Any]) -> None:
    """Add `event` to the outbox in the caller's transaction; it is published after commit."""
    await conn.execute(
        "INSERT INTO outbox (id, subject, payload, request_id) VALUES ($1, $2, $3, $4)",
        event.id,
        subject,
        _encoder.encode(event),
        event.correlation_id,
    )
    # NOTIFY is delivered on commit only, so the relay never wakes for a rolled-back event.
    schema = await conn.fetchval("SELECT current_schema()")
    await conn.execute("SELECT pg_notify($1, '')", notify_channel(schema))


class OutboxRelay:
    """Publishes a service's outbox rows; wakes on LISTEN/NOTIFY and polls as a fallback."""

    def __init__(
        self,
        db: Database,
        nats: NatsConnection,
        *,
        poll_interval: float = 1.0,
        batch_size: int = 200,
        retention_hours: float = 72.0,
    ) -> None:
        self._db = db
        self._nats = nats
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._retention_hours = retention_hours
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self.published = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._db.schema}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close_listener()

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        backoff = self._poll_interval
        last_cleanup = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self._ensure_listener()
                while await self.publish_pending() == self._batch_size:
                    pass
                if loop.time() - last_cleanup > 3600:
                    await self._cleanup()
                    last_cleanup = loop.time()
                backoff = self._poll_interval
            except _RETRYABLE as exc:
                log.warning("outbox relay waiting", schema=self._db.schema, reason=type(exc).__name__)
                await self._close_listener()
                backoff = min(backoff * 2, 5.0)
            except Exception:
                log.exception("outbox relay error", schema=self._db.schema)
                backoff = min(backoff * 2, 5.0)
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)

    async def publish_pending(self) -> int:
        """Publish one batch of unsent events in order; return how many were sent."""
        async with self._db.transaction() as conn:
            rows = await conn.fetch(
                "SELECT id, subject, payload, request_id FROM outbox WHERE sent_at IS NULL"
                " ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED",
                self._batch_size,
            )
            if not rows:
                return 0
            js = self._nats.js
            results = await asyncio.gather(
                *(
                    js.publish(
                        row["subject"],
                        bytes(row["payload"]),
                        timeout=5.0,
                        headers=self._headers(row),
                    )
                    for row in rows
                ),
                return_exceptions=True,
            )
            sent = [row["id"] for row, res in zip(rows, results, strict=True) if not isinstance(res, BaseException)]
            failed = [
                (row["id"], res) for row, res in zip(rows, results, strict=True) if isinstance(res, BaseException)
            ]
            if sent:
                await conn.execute("UPDATE outbox SET sent_at = now() WHERE id = ANY($1::uuid[])", sent)
            for event_id, exc in failed:
                await conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
                    event_id,
                    f"{type(exc).__name__}: {exc}"[:500],
                )
        self.published += len(sent)
        if failed:
            raise failed[0][1] if isinstance(failed[0][1], Exception) else RuntimeError("publish failed")
        return len(rows)

    @staticmethod
    def _headers(row: asyncpg.Record) -> dict[str, str]:
        headers = {"Nats-Msg-Id": str(row["id"])}
        if row["request_id"]:
            headers[REQUEST_ID_HEADER] = row["request_id"]
        return headers

    async def _cleanup(self) -> None:
        await self._db.execute(
            "DELETE FROM outbox WHERE sent_at < now() - make_interval(hours => $1)", self._retention_hours
        )

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        conn: asyncpg.Connection = await asyncpg.connect(self._db.dsn, timeout=5)
        await conn.add_listener(notify_channel(self._db.schema), lambda *_: self._wake.set())
        self._listener = conn

    async def _close_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close(timeout=2)
            self._listener = None

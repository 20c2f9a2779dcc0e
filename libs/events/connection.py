"""A NATS connection that reconnects forever and says so in the logs."""

from __future__ import annotations

import asyncio
import contextlib
import time

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from libs.logging import get_logger

log = get_logger(__name__)

# Errors that mean "NATS is not reachable right now": callers answer 503 and retry.
NATS_UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    nats.errors.NoServersError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    # Publishing while reconnecting fills a buffer; once it is full, publishes fail with this.
    nats.errors.OutboundBufferLimitError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
    ConnectionError,
)


class NatsConnection:
    """One process-level NATS connection per service (named after it) and its JetStream context."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self._nc: NATS | None = None
        self._closing = False

    async def connect(self, *, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.2
        while True:
            try:
                self._nc = await nats.connect(
                    self.url,
                    name=self.name,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    connect_timeout=2,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
                return
            except (TimeoutError, OSError, nats.errors.NoServersError):
                if time.monotonic() >= deadline:
                    raise
                log.warning("nats not reachable yet, retrying", url=self.url, name=self.name)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    @property
    def nc(self) -> NATS:
        if self._nc is None:
            raise nats.errors.ConnectionClosedError
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        return self.nc.jetstream()

    async def close(self) -> None:
        self._closing = True
        if self._nc is not None and not self._nc.is_closed:
            # Components have already stopped their subscriptions: flush what was published and
            # close, rather than drain (which can wait its whole timeout on ephemeral consumers).
            with contextlib.suppress(nats.errors.ConnectionClosedError, nats.errors.FlushTimeoutError, TimeoutError):
                await self._nc.flush(timeout=2)
            await self._nc.close()
        self._nc = None

    async def check(self) -> None:
        """Raise unless the connection is up and JetStream answers (readiness)."""
        if self._nc is None or not self._nc.is_connected:
            raise nats.errors.ConnectionClosedError
        await self.js.account_info()

    async def _on_error(self, exc: Exception) -> None:
        log.warning("nats error", name=self.name, error=str(exc) or type(exc).__name__)

    async def _on_disconnected(self) -> None:
        if not self._closing:
            log.warning("nats disconnected", name=self.name)

    async def _on_reconnected(self) -> None:
        log.info("nats reconnected", name=self.name)


async def connect_nats(url: str, name: str, *, timeout: float = 30.0) -> NatsConnection:
    conn = NatsConnection(url, name)
    await conn.connect(timeout=timeout)
    return conn

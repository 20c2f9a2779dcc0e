"""NATS request/reply for synchronous look-ups between services (e.g. token introspection).

Replies are `RpcReply` envelopes: `ok` with `data`, or an error `code` and message, so a
caller can tell "the answer is no" (`RpcError`) from "nobody answered" (`RpcUnavailable`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import msgspec
import nats
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from libs.events.connection import NATS_UNAVAILABLE_ERRORS, NatsConnection
from libs.logging import (
    REQUEST_ID_HEADER,
    bound_request_id,
    current_request_id,
    get_logger,
    request_id_from_headers,
)

log = get_logger(__name__)
Req = TypeVar("Req")
Resp = TypeVar("Resp")


class RpcReply(msgspec.Struct, Generic[Resp], frozen=True, omit_defaults=True):
    ok: bool
    data: Resp | None = None
    code: str | None = None
    error: str | None = None


class RpcError(Exception):
    """The responder answered with an error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class RpcUnavailable(Exception):
    """No responder answered in time (the owning service or NATS is down)."""


_encoder = msgspec.json.Encoder()
_NO_ANSWER: tuple[type[Exception], ...] = (*NATS_UNAVAILABLE_ERRORS, TimeoutError)
_UNSUBSCRIBE_ERRORS: tuple[type[Exception], ...] = (*NATS_UNAVAILABLE_ERRORS, nats.errors.BadSubscriptionError)


class RpcServer(Generic[Req, Resp]):
    """Answers requests on `subject` in a queue group, so replicas share the load."""

    def __init__(
        self,
        nats: NatsConnection,
        subject: str,
        request_type: type[Req],
        handler: Callable[[Req], Awaitable[Resp]],
        *,
        queue: str | None = None,
    ) -> None:
        self._nats = nats
        self.subject = subject
        self._decoder = msgspec.json.Decoder(request_type)
        self._handler = handler
        self._queue = queue or f"rpc.{subject}"
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self._nats.nc.subscribe(self.subject, queue=self._queue, cb=self._on_message)

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(*_UNSUBSCRIBE_ERRORS):
                await self._sub.unsubscribe()
            self._sub = None

    async def _on_message(self, msg: Msg) -> None:
        with bound_request_id(request_id_from_headers(msg.headers)):
            reply: RpcReply[Any]
            try:
                req = self._decoder.decode(msg.data)
            except msgspec.DecodeError as exc:
                reply = RpcReply(ok=False, code="bad_request", error=str(exc))
            else:
                try:
                    reply = RpcReply(ok=True, data=await self._handler(req))
                except RpcError as exc:
                    reply = RpcReply(ok=False, code=exc.code, error=str(exc))
                except Exception:
                    log.exception("rpc handler failed", subject=self.subject)
                    reply = RpcReply(ok=False, code="internal", error="internal error")
            if msg.reply:
                try:
                    await msg.respond(_encoder.encode(reply))
                except NATS_UNAVAILABLE_ERRORS:
                    log.warning("rpc reply not sent", subject=self.subject)


async def request(
    nats_conn: NatsConnection,
    subject: str,
    payload: Any,
    response_type: type[Resp],
    *,
    timeout: float = 2.0,
) -> Resp:
    """Send a request and decode the reply's data; raise `RpcError` or `RpcUnavailable`."""
    headers = {}
    rid = current_request_id()
    if rid:
        headers[REQUEST_ID_HEADER] = rid
    try:
        msg = await nats_conn.nc.request(subject, _encoder.encode(payload), timeout=timeout, headers=headers or None)
    except _NO_ANSWER as exc:
        raise RpcUnavailable(f"no answer on {subject}: {type(exc).__name__}") from exc
    try:
        reply = msgspec.json.decode(msg.data, type=RpcReply[response_type])  # type: ignore[valid-type]
    except msgspec.DecodeError as exc:
        raise RpcUnavailable(f"malformed reply on {subject}: {exc}") from exc
    if not reply.ok:
        raise RpcError(reply.code or "error", reply.error or "request failed")
    if reply.data is None:
        raise RpcError("empty", f"{subject} answered without data")
    return reply.data

"""ASGI middleware: give every request an id (`X-Request-ID`, generated when absent), bind it into
structlog's context for everything the request does, echo it on the response, and log one access
line per request without headers or bodies (so no token or password can reach the logs)."""

from __future__ import annotations

import re
import time

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from libs.logging import REQUEST_ID_HEADER, get_logger, new_request_id

log = get_logger("forge.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_HEADER = REQUEST_ID_HEADER.lower().encode()
_QUIET_PATHS = ("/health/", "/metrics")


def _incoming_id(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == _HEADER:
            candidate = value.decode("latin-1")
            # A client-chosen id is kept only if it is harmless in logs and headers.
            if _VALID_ID.match(candidate):
                return candidate
    return new_request_id()


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        request_id = _incoming_id(scope)
        start = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((_HEADER, request_id.encode()))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await app(scope, receive, send_with_id)
            finally:
                path = scope.get("path", "")
                if not path.startswith(_QUIET_PATHS):
                    log.info(
                        "request",
                        method=scope.get("method", "WS"),
                        path=path,
                        status=status,
                        duration_ms=round((time.perf_counter() - start) * 1000, 2),
                    )

    return middleware

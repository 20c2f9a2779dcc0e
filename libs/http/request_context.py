"""ASGI middleware: give every request an id (`X-Request-ID`, generated when absent), bind it into
structlog's context for everything the request does, echo it on the response, and log one access
line per request without headers or bodies (so no token or password can reach the logs).

It also refuses requests whose headers add up to more than `MAX_HEADER_BYTES` with 431: the app
server (uvicorn with httptools) has no such limit of its own. The gateway in front caps what the
server has to read (deploy/nginx: 8 KiB buffers); this keeps oversized headers out of the app.
"""

from __future__ import annotations

import re
import time

import msgspec
import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Message, Receive, Scope, Send

from libs.http.errors import ErrorBody
from libs.logging import REQUEST_ID_HEADER, get_logger, new_request_id

log = get_logger("forge.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_HEADER = REQUEST_ID_HEADER.lower().encode()
_QUIET_PATHS = ("/health/", "/metrics")
MAX_HEADER_BYTES = 64 * 1024
_TOO_LARGE = msgspec.json.encode(
    ErrorBody(error=f"Request headers exceed {MAX_HEADER_BYTES} bytes", error_code="HEADERS_TOO_LARGE")
)


def _header_bytes(scope: Scope) -> int:
    return sum(len(key) + len(value) for key, value in scope.get("headers", []))


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
                if scope["type"] == ScopeType.HTTP and _header_bytes(scope) > MAX_HEADER_BYTES:
                    await _refuse_headers(send_with_id)
                    return
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


async def _refuse_headers(send: Send) -> None:
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 431,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(_TOO_LARGE)).encode())],
    }
    body: HTTPResponseBodyEvent = {"type": "http.response.body", "body": _TOO_LARGE, "more_body": False}
    await send(start)
    await send(body)

"""Every error leaves as the envelope `{"success": false, "error", "error_code", "details"?}`.

`details` is only filled in debug mode; a stack trace never leaves the process. Outages of a
dependency (database, NATS, object storage, auth) answer 503, not 500.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY, HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap
from msgspec import UNSET, UnsetType

from libs.database.pool import DatabaseUnavailable
from libs.events.connection import NATS_UNAVAILABLE_ERRORS
from libs.events.rpc import RpcUnavailable
from libs.identity.authenticator import IdentityUnavailable
from libs.logging import get_logger
from libs.storage.base import StorageUnavailable

log = get_logger(__name__)

DEFAULT_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    416: "RANGE_NOT_SATISFIABLE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


class ErrorBody(msgspec.Struct, kw_only=True):
    success: bool = False
    error: str
    error_code: str
    details: Any | UnsetType = UNSET


class ApiError(HTTPException):
    """An error a handler raises on purpose, with the service's own `error_code`."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        error_code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=message, status_code=status_code, headers=headers, extra=details)
        self.error_code = error_code or DEFAULT_CODES.get(status_code, "ERROR")


def error_response(
    status: int,
    message: str,
    code: str | None = None,
    *,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response[ErrorBody]:
    body = ErrorBody(
        error=message,
        error_code=code or DEFAULT_CODES.get(status, "ERROR"),
        details=UNSET if details is None else details,
    )
    return Response(content=body, status_code=status, media_type=MediaType.JSON, headers=headers)


def _validation_message(exc: ValidationException) -> str:
    problems = exc.extra if isinstance(exc.extra, list) else []
    parts = []
    for problem in problems[:5]:
        if isinstance(problem, dict):
            where = problem.get("key") or problem.get("source") or ""
            parts.append(f"{where}: {problem.get('message', 'invalid')}".strip(": "))
    return "Validation failed" + (f": {'; '.join(parts)}" if parts else "")


def _http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    debug = request.app.debug
    if isinstance(exc, ValidationException):
        return error_response(
            HTTP_422_UNPROCESSABLE_ENTITY,
            _validation_message(exc),
            "VALIDATION_ERROR",
            details=exc.extra if debug else None,
        )
    status = exc.status_code
    code = getattr(exc, "error_code", None) or DEFAULT_CODES.get(status, "ERROR")
    message = exc.detail if isinstance(exc.detail, str) and exc.detail else DEFAULT_CODES.get(status, "Error")
    headers = dict(exc.headers) if exc.headers else None
    details = exc.extra if debug and not isinstance(exc, ApiError) else (exc.extra if debug else None)
    return error_response(status, message, code, details=details, headers=headers)


def _unavailable_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.warning("dependency unavailable", path=request.url.path, error=type(exc).__name__, reason=str(exc)[:200])
    return error_response(
        503,
        "Service temporarily unavailable, please retry",
        "SERVICE_UNAVAILABLE",
        details=str(exc) if request.app.debug else None,
        headers={"Retry-After": "5"},
    )


def _internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.exception("unhandled error", path=request.url.path, method=request.method)
    return error_response(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Internal server error",
        "INTERNAL_ERROR",
        details=f"{type(exc).__name__}: {exc}" if request.app.debug else None,
    )


def exception_handlers() -> ExceptionHandlersMap:
    handlers: ExceptionHandlersMap = {HTTPException: _http_exception_handler}
    for unavailable in (DatabaseUnavailable, StorageUnavailable, RpcUnavailable, IdentityUnavailable):
        handlers[unavailable] = _unavailable_handler
    for nats_error in NATS_UNAVAILABLE_ERRORS:  # each is an Exception subclass
        handlers[nats_error] = _unavailable_handler
    handlers[Exception] = _internal_error_handler
    return handlers

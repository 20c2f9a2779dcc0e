"""Liveness and readiness: `/health/live` answers while the loop runs; `/health/ready` checks dependencies."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response, get
from litestar.openapi.datastructures import ResponseSpec

from libs.http.errors import error_response
from libs.http.openapi import PublicOperation

Check = Callable[[], Awaitable[None]]


class ReadinessChecks:
    """Named checks (e.g. `upload.database`) that each raise when their dependency is not usable."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    async def run(self, timeout: float = 3.0) -> dict[str, str]:
        async def one(check: Check) -> str:
            try:
                await asyncio.wait_for(check(), timeout=timeout)
            except Exception as exc:
                return f"error: {type(exc).__name__}"
            return "ok"

        names = list(self._checks)
        results = await asyncio.gather(*(one(self._checks[n]) for n in names))
        return dict(zip(names, results, strict=True))


@get(
    "/health/live",
    opt={"exclude_from_auth": True},
    tags=["health"],
    include_in_schema=True,
    sync_to_thread=False,
    operation_class=PublicOperation,
)
def live() -> dict[str, Any]:
    """The process is up and its event loop answers."""
    return {"success": True, "data": {"status": "alive"}}


@get(
    "/health/ready",
    opt={"exclude_from_auth": True},
    tags=["health"],
    responses={503: ResponseSpec(data_container=dict[str, Any], description="A dependency is not usable")},
    operation_class=PublicOperation,
)
async def ready(request: Request[Any, Any, Any]) -> Response[Any]:
    """Every dependency (database, NATS, object storage of each service) answers."""
    checks: ReadinessChecks = request.app.state["readiness"]
    if request.app.state.get("shutting_down"):
        return error_response(503, "Shutting down", "SERVICE_UNAVAILABLE")
    results = await checks.run()
    healthy = all(v == "ok" for v in results.values())
    body = {"success": healthy, "data": {"status": "ready" if healthy else "not_ready", "checks": results}}
    if not healthy:
        body["error"] = "Not ready"
        body["error_code"] = "SERVICE_UNAVAILABLE"
    return Response(content=body, status_code=200 if healthy else 503)

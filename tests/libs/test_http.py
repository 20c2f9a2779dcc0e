"""The shared HTTP surface: error envelope, request ids, health, metrics, OpenAPI, body limits."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
from litestar import Litestar, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from libs.http import ApiError, ReadinessChecks, Success, create_app, ok
from libs.identity import Principal
from tests.infra import serve_app


class Payload(msgspec.Struct):
    name: str
    count: int


@post("/echo", opt={"exclude_from_auth": True}, sync_to_thread=False)
def echo(data: JSONBody[Payload]) -> Success[Payload]:
    return ok(data, "echoed")


@get("/boom", opt={"exclude_from_auth": True}, sync_to_thread=False)
def boom() -> None:
    raise RuntimeError("secret internal detail")


@get("/teapot", opt={"exclude_from_auth": True}, sync_to_thread=False)
def teapot() -> None:
    raise ApiError(409, "Already exists", error_code="THING_001")


@get("/private", sync_to_thread=False)
def private(principal: NamedDependency[Principal]) -> dict[str, Any]:
    return {"user": principal.user_id}


def app(readiness: ReadinessChecks | None = None) -> Litestar:
    return create_app(
        title="test",
        version="1",
        route_handlers=[echo, boom, teapot, private],
        readiness=readiness,
        max_body_size=1000,
    )


async def test_error_envelope_for_every_kind_of_error() -> None:
    async with serve_app(app()) as base, httpx.AsyncClient(base_url=base) as client:
        r = await client.get("/no/such/route")
        assert r.status_code == 404
        assert r.json() == {"success": False, "error": "Not Found", "error_code": "NOT_FOUND"}

        r = await client.delete("/echo")
        assert r.status_code == 405
        assert r.json()["error_code"] == "METHOD_NOT_ALLOWED"
        assert r.json()["success"] is False

        r = await client.post("/echo", json={"name": "x", "count": "not a number"})
        assert r.status_code == 422
        body = r.json()
        assert body["error_code"] == "VALIDATION_ERROR"
        assert "count" in body["error"]
        assert "details" not in body  # details only in debug mode

        r = await client.post("/echo", content=b"{broken", headers={"content-type": "application/json"})
        assert r.status_code in (400, 422)
        assert r.json()["success"] is False

        r = await client.get("/boom")
        assert r.status_code == 500
        assert r.json() == {"success": False, "error": "Internal server error", "error_code": "INTERNAL_ERROR"}
        assert "secret internal detail" not in r.text

        r = await client.get("/teapot")
        assert r.status_code == 409
        assert r.json() == {"success": False, "error": "Already exists", "error_code": "THING_001"}

        r = await client.post("/echo", json={"name": "x" * 2000, "count": 1})
        assert r.status_code == 413
        assert r.json()["error_code"] == "PAYLOAD_TOO_LARGE"

        r = await client.get("/private")
        assert r.status_code == 401
        assert r.json()["error_code"] == "UNAUTHORIZED"

        r = await client.get("/private", headers={"Authorization": "Basic abc"})
        assert r.status_code == 401

        r = await client.post("/echo", json={"name": "x", "count": 2})
        assert r.status_code == 201
        assert r.json() == {"success": True, "message": "echoed", "data": {"name": "x", "count": 2}}


async def test_request_id_is_echoed_or_generated() -> None:
    async with serve_app(app()) as base, httpx.AsyncClient(base_url=base) as client:
        r = await client.get("/health/live", headers={"X-Request-ID": "abc-123"})
        assert r.headers["x-request-id"] == "abc-123"
        r = await client.get("/health/live", headers={"X-Request-ID": "bad id\twith spaces"})
        assert r.headers["x-request-id"] != "bad id\twith spaces"
        assert len(r.headers["x-request-id"]) == 32
        r = await client.get("/no/such/route")
        assert len(r.headers["x-request-id"]) == 32


async def test_readiness_really_checks() -> None:
    checks = ReadinessChecks()
    healthy = {"ok": True}

    async def dependency() -> None:
        if not healthy["ok"]:
            raise ConnectionError("down")

    checks.add("thing.database", dependency)
    async with serve_app(app(checks)) as base, httpx.AsyncClient(base_url=base) as client:
        r = await client.get("/health/ready")
        assert r.status_code == 200
        assert r.json()["data"]["checks"] == {"thing.database": "ok"}
        healthy["ok"] = False
        r = await client.get("/health/ready")
        assert r.status_code == 503
        assert r.json()["success"] is False
        assert r.json()["data"]["checks"]["thing.database"].startswith("error")
        assert (await client.get("/health/live")).status_code == 200


async def test_metrics_and_openapi() -> None:
    async with serve_app(app()) as base, httpx.AsyncClient(base_url=base) as client:
        await client.get("/health/live")
        await client.get("/teapot")
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert "forge_requests_total" in metrics.text
        schema = await client.get("/schema/openapi.json")
        assert schema.status_code == 200
        assert "/echo" in schema.json()["paths"]
        docs = await client.get("/schema")
        assert docs.status_code == 200
        assert "html" in docs.headers["content-type"]

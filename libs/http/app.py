"""`create_app`: the Litestar application every platform process serves.

It carries what DESIGN.md asks of every service: the error envelope for every error (including
unknown routes and validation), request ids, authentication, health, Prometheus `/metrics`,
OpenAPI with interactive docs at `/schema`, and a default body-size limit that routes raise
explicitly where they accept uploads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.types import (
    ControllerRouterHandler,
    LifeSpanReceive,
    LifeSpanScope,
    LifeSpanSend,
    Receive,
    Scope,
    Send,
)

from libs.http.errors import exception_handlers
from libs.http.health import ReadinessChecks, live, ready
from libs.http.request_context import request_context_middleware
from libs.identity.litestar import AuthMiddleware, current_principal

PUBLIC_PATHS = ["/health", "/metrics", "/schema"]


class PlatformApp(Litestar):
    """Litestar with the request-context layer outermost, so even unmatched routes get an id and a log line."""

    async def __call__(
        self, scope: Scope | LifeSpanScope, receive: Receive | LifeSpanReceive, send: Send | LifeSpanSend
    ) -> None:
        wrapped = self.__dict__.get("_with_context")
        if wrapped is None:
            wrapped = request_context_middleware(super().__call__)
            self.__dict__["_with_context"] = wrapped
        await wrapped(scope, receive, send)  # type: ignore[arg-type]


class _Metrics(PrometheusController):
    path = "/metrics"
    include_in_schema = False
    opt = {"exclude_from_auth": True}


def create_app(
    *,
    title: str,
    version: str,
    route_handlers: Sequence[ControllerRouterHandler],
    lifespan: Sequence[Callable[[Litestar], AbstractAsyncContextManager[Any]]] = (),
    readiness: ReadinessChecks | None = None,
    debug: bool = False,
    max_body_size: int = 1_048_576,
    state: dict[str, Any] | None = None,
    description: str = "",
) -> PlatformApp:
    prometheus = PrometheusConfig(app_name="forge", prefix="forge", group_path=True, exclude=["/metrics", "/health"])
    return PlatformApp(
        route_handlers=[live, ready, _Metrics, *route_handlers],
        lifespan=list(lifespan),
        middleware=[
            prometheus.middleware,
            DefineMiddleware(AuthMiddleware, exclude=PUBLIC_PATHS),
        ],
        exception_handlers=exception_handlers(),
        dependencies={"principal": Provide(current_principal, sync_to_thread=False)},
        openapi_config=OpenAPIConfig(
            title=title,
            version=version,
            description=description,
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http", scheme="bearer", description="JWT access token or API token (ftk_…)"
                    ),
                    "ApiKey": SecurityScheme(type="apiKey", name="X-API-Key", security_scheme_in="header"),
                }
            ),
            security=[{"BearerToken": []}, {"ApiKey": []}],
        ),
        request_max_body_size=max_body_size,
        debug=debug,
        logging_config=None,
        state=State({**(state or {}), "readiness": readiness or ReadinessChecks()}),
    )

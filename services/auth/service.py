"""How the host runs the auth service (its routes and background parts arrive with its own issue)."""

from __future__ import annotations

from forge.spec import ServiceContext, ServiceRuntime, ServiceSpec


async def build(ctx: ServiceContext) -> ServiceRuntime:
    return ServiceRuntime(state=ctx)


SERVICE = ServiceSpec(
    name="auth",
    description="users, JWT access/refresh tokens, API tokens, JWKS",
    build=build,
    routes=lambda: [],
)

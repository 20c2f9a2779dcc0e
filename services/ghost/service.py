"""How the host runs the ghost service (its routes and background parts arrive with its own issue)."""

from __future__ import annotations

from forge.spec import ServiceContext, ServiceRuntime, ServiceSpec


async def build(ctx: ServiceContext) -> ServiceRuntime:
    return ServiceRuntime(state=ctx)


SERVICE = ServiceSpec(
    name="ghost",
    description="metadata extraction and shredding",
    build=build,
    routes=lambda: [],
)

"""How the host runs the upload service (its routes and background parts arrive with its own issue)."""

from __future__ import annotations

from forge.spec import ServiceContext, ServiceRuntime, ServiceSpec


async def build(ctx: ServiceContext) -> ServiceRuntime:
    return ServiceRuntime(state=ctx)


SERVICE = ServiceSpec(
    name="upload",
    description="user-scoped file storage with validation and SHA-256 dedup",
    build=build,
    routes=lambda: [],
)

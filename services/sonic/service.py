"""How the host runs the sonic service: job API in `serve`, transcription in `worker sonic`."""

from __future__ import annotations

from pathlib import Path

from forge.spec import ServiceContext, ServiceRuntime, ServiceSpec
from libs.contracts import sonic
from libs.settings import load_settings
from services.sonic.api import routes
from services.sonic.jobs import JobService
from services.sonic.settings import SonicSettings
from services.sonic.store import JobStore
from services.sonic.worker import TranscriptionWorker


async def build(ctx: ServiceContext) -> ServiceRuntime:
    settings = load_settings(SonicSettings, prefix="SONIC_")
    jobs = JobService(JobStore(ctx.db), ctx.store, ctx.nats, settings)
    return ServiceRuntime(
        state=jobs, workers=[TranscriptionWorker(ctx.db, ctx.nats, ctx.store, settings, grace=ctx.worker_grace)]
    )


SERVICE = ServiceSpec(
    name="sonic",
    description="audio transcription jobs",
    build=build,
    routes=routes,
    migrations=Path(__file__).parent / "migrations",
    streams=(sonic.JOBS_STREAM, sonic.STREAM),
    has_workers=True,
)

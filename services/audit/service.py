"""How the host runs the audit service: audit and usage APIs in `serve`, scanning in `worker audit`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from forge.spec import ServiceContext, ServiceRuntime, ServiceSpec
from libs.contracts import audit, sonic, upload
from libs.events import Consumer, StreamSpec, ensure_stream
from libs.settings import load_settings
from services.audit.api import routes
from services.audit.audits import AuditService
from services.audit.settings import AuditSettings
from services.audit.store import AuditStore
from services.audit.usage import UsageService
from services.audit.worker import AuditWorker

# Where each counted event lives, and its payload type.
USAGE_SOURCES: dict[str, tuple[StreamSpec, type[Any]]] = {
    upload.FILE_STORED: (upload.STREAM, upload.FileStored),
    sonic.JOB_COMPLETED: (sonic.STREAM, sonic.JobFinished),
    audit.AUDIT_COMPLETED: (audit.STREAM, audit.AuditFinished),
}


async def build(ctx: ServiceContext) -> ServiceRuntime:
    settings = load_settings(AuditSettings, prefix="AUDIT_")
    store = AuditStore(ctx.db)
    usage = UsageService(ctx.db, store, settings)
    service = AuditService(store, ctx.store, ctx.nats, settings, usage)
    consumers = []
    for subject, handler in usage.handlers().items():
        stream, payload = USAGE_SOURCES[subject]
        # Other services own these streams; create them if their owner has not started yet.
        await ensure_stream(ctx.nats.js, stream, replicas=ctx.settings.nats_stream_replicas, owner=False)
        consumers.append(
            Consumer(
                db=ctx.db,
                nats=ctx.nats,
                stream=stream.name,
                durable=f"audit-usage-{subject.replace('.', '-')}",
                subjects=[subject],
                data_type=payload,
                handler=handler,
            )
        )
    return ServiceRuntime(
        state=service,
        components=list(consumers),
        workers=[AuditWorker(ctx.db, ctx.nats, ctx.store, settings, grace=ctx.worker_grace)],
    )


SERVICE = ServiceSpec(
    name="audit",
    description="code provenance audits and usage statistics",
    build=build,
    routes=routes,
    migrations=Path(__file__).parent / "migrations",
    streams=(audit.JOBS_STREAM, audit.STREAM),
    has_workers=True,
)

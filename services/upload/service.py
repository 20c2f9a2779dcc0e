"""How the host runs the upload service."""

from __future__ import annotations

from pathlib import Path

from forge.spec import ServiceContext, ServiceRuntime, ServiceSpec
from libs.contracts import ghost, upload
from libs.events import Consumer, StreamSpec, ensure_stream
from libs.settings import load_settings
from services.upload.api import routes
from services.upload.events import MetadataRecorder
from services.upload.files import FileService
from services.upload.settings import UploadSettings
from services.upload.store import UploadStore


async def build(ctx: ServiceContext) -> ServiceRuntime:
    settings = load_settings(UploadSettings)
    files = FileService(UploadStore(ctx.db), ctx.store, settings, bucket=f"{ctx.settings.s3_bucket}-upload")
    # Ghost owns its stream; make sure it exists so our durable consumer can bind before ghost starts.
    await ensure_stream(ctx.nats.js, ghost.STREAM, replicas=ctx.settings.nats_stream_replicas, owner=False)
    consumer = Consumer(
        db=ctx.db,
        nats=ctx.nats,
        stream=ghost.STREAM.name,
        durable="upload-metadata",
        subjects=[ghost.METADATA_EXTRACTED],
        data_type=ghost.MetadataExtracted,
        handler=MetadataRecorder(files),
    )
    return ServiceRuntime(state=files, components=[consumer])


STREAMS: tuple[StreamSpec, ...] = (upload.STREAM,)

SERVICE = ServiceSpec(
    name="upload",
    description="user-scoped file storage with validation and SHA-256 dedup",
    build=build,
    routes=routes,
    migrations=Path(__file__).parent / "migrations",
    streams=STREAMS,
)

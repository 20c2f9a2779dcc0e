"""How the host runs the ghost service."""

from __future__ import annotations

import asyncio
from pathlib import Path

from forge.spec import ServiceContext, ServiceRuntime, ServiceSpec
from libs.contracts import ghost, upload
from libs.events import Consumer, ensure_stream
from libs.settings import load_settings
from services.ghost.api import routes
from services.ghost.events import StoredFileExtractor
from services.ghost.limits import Limits
from services.ghost.runtime import Ghost
from services.ghost.settings import GhostSettings


async def build(ctx: ServiceContext) -> ServiceRuntime:
    settings = load_settings(GhostSettings, prefix="GHOST_")
    state = Ghost(
        settings=settings,
        limits=Limits(max_bytes=settings.max_file_size, max_pixels=settings.max_pixels),
        db=ctx.db,
        slots=asyncio.Semaphore(settings.concurrency),
    )
    # Upload owns this stream; create it if upload has not started yet so the consumer can bind.
    await ensure_stream(ctx.nats.js, upload.STREAM, replicas=ctx.settings.nats_stream_replicas, owner=False)
    consumer = Consumer(
        db=ctx.db,
        nats=ctx.nats,
        stream=upload.STREAM.name,
        durable="ghost-extract",
        subjects=[upload.FILE_STORED],
        data_type=upload.FileStored,
        handler=StoredFileExtractor(state, ctx.settings),
        max_deliver=5,
        ack_wait=120.0,
        # Reading the object and writing the results overlap another file's extraction; the
        # extractions themselves share `slots` with the HTTP routes.
        concurrency=settings.concurrency,
    )
    return ServiceRuntime(state=state, components=[consumer])


SERVICE = ServiceSpec(
    name="ghost",
    description="metadata extraction and shredding",
    build=build,
    routes=routes,
    migrations=Path(__file__).parent / "migrations",
    streams=(ghost.STREAM,),
)

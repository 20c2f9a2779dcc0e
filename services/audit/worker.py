"""The audit worker: takes audits from the AUDIT_JOBS work queue, fetches the source, scans it,
renders the reports (JSON, HTML, PDF, CycloneDX SBOM) and stores them."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import msgspec

from libs.contracts import audit as contract
from libs.database import Database
from libs.events import Consumer, Delivery, NatsConnection, PoisonMessage, enqueue_event, new_event
from libs.jobs import CancelFn, ProgressFn, ThreadedJob
from libs.logging import get_logger
from libs.storage import ObjectNotFound, ObjectStore
from libs.storage.files import download_file
from services.audit.audits import REPORT_FORMATS, report_key
from services.audit.report.render import render_html, render_json, render_pdf, render_sbom
from services.audit.scanner import (
    ArchiveRefused,
    AuditCancelled,
    AuditReport,
    FetchFailed,
    FetchLimits,
    RepositoryRefused,
    SourceInfo,
    SourceTooLarge,
    clone_local_repository,
    clone_repository,
    run_audit,
    unpack_archive,
    warm_up,
)
from services.audit.settings import AuditSettings
from services.audit.store import AuditStore

log = get_logger(__name__)
_encoder = msgspec.json.Encoder()
FETCH_SHARE = 10.0  # percent of progress given to fetching the source
PERMANENT = (RepositoryRefused, FetchFailed, ArchiveRefused, SourceTooLarge)


class AuditWorker:
    def __init__(
        self,
        db: Database,
        nats: NatsConnection,
        objects: ObjectStore,
        settings: AuditSettings,
        *,
        grace: float = 10.0,
    ) -> None:
        self._grace = grace
        self._db = db
        self._store = AuditStore(db)
        self._nats = nats
        self._objects = objects
        self._settings = settings
        self._name = f"{socket.gethostname()}-{os.getpid()}"
        self._limits = FetchLimits(
            max_repo_bytes=settings.max_repo_bytes,
            clone_depth=settings.clone_depth,
            clone_timeout_s=settings.clone_timeout_seconds,
        )
        self._consumer = Consumer(
            db=db,
            nats=nats,
            stream=contract.JOBS_STREAM.name,
            durable="audit-run",
            subjects=[contract.AUDIT_REQUESTED],
            data_type=contract.AuditRequested,
            handler=self.handle,
            max_deliver=settings.max_attempts,
            ack_wait=settings.ack_wait_seconds,
            batch=1,
            concurrency=settings.worker_concurrency,
            max_ack_pending=settings.worker_concurrency,
        )

    async def start(self) -> None:
        if self._settings.warm_up:
            began = time.perf_counter()
            await asyncio.to_thread(warm_up)
            log.info("scancode index loaded", seconds=round(time.perf_counter() - began, 1))
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop(grace=min(self._grace, self._settings.ack_wait_seconds / 2))

    async def handle(self, delivery: Delivery[contract.AuditRequested]) -> None:
        try:
            audit_id = uuid.UUID(delivery.event.data.audit_id)
        except ValueError as exc:  # no retry can make it an id: dead-letter it now
            raise PoisonMessage(f"audit id {delivery.event.data.audit_id!r} is not a UUID") from exc
        row = await self._store.start(audit_id, self._name)
        if row is None:
            return
        workdir = Path(tempfile.mkdtemp(prefix="forge-audit-"))
        try:
            await self._run(delivery, row, workdir)
        finally:
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    async def _run(self, delivery: Delivery[contract.AuditRequested], row: asyncpg.Record, workdir: Path) -> None:
        audit_id: uuid.UUID = row["id"]
        owner: str = row["owner_id"]
        source = workdir / "source"

        async def report(progress: float, stage: str) -> bool:
            status = await self._store.progress(audit_id, progress, stage)
            if status == "running":
                await self._publish_progress(audit_id, owner, progress, stage)
            return status == "running"

        # The archive keeps its stored name (`source.zip`, `source.tar.gz`…): unpacking goes by it.
        archive = workdir / Path(row["archive_key"] or "source").name
        if row["source_kind"] == "archive":
            try:
                await download_file(self._objects, row["archive_key"], archive)
            except ObjectNotFound:
                await self._finish(audit_id, owner, "failed", error="the uploaded archive is missing from storage")
                return

        def audit(on_progress: ProgressFn, should_cancel: CancelFn) -> AuditReport:
            on_progress(1.0, "fetching")
            info = self._fetch(row, source, archive, should_cancel)
            on_progress(FETCH_SHARE, "inventory")

            def on_stage(stage: str, percent: float) -> None:
                on_progress(FETCH_SHARE + (100 - FETCH_SHARE) * percent / 100 * 0.95, stage)

            return run_audit(source, on_stage=on_stage, should_cancel=should_cancel, source_info=info)

        try:
            result = await ThreadedJob[AuditReport](
                delivery, report=report, keepalive_seconds=self._settings.keepalive_seconds
            ).run(audit)
        except AuditCancelled:
            log.info("audit cancelled", audit_id=str(audit_id))
            return
        except PERMANENT as exc:
            await self._finish(audit_id, owner, "failed", error=str(exc))
            return
        await report(97.0, "rendering reports")
        await self._store_reports(audit_id, result)
        await self._finish(audit_id, owner, "completed", result=result)

    def _fetch(self, row: asyncpg.Record, source: Path, archive: Path, should_cancel: CancelFn) -> SourceInfo:
        kind, repository, branch = row["source_kind"], row["repository"], row["branch"]
        if kind == "archive":
            unpack_archive(archive, source, limits=self._limits, should_cancel=should_cancel)
            return SourceInfo(kind="archive", name=repository)
        if kind == "local":
            clone_local_repository(
                Path(repository), source, branch=branch, limits=self._limits, should_cancel=should_cancel
            )
        else:
            clone_repository(
                repository,
                source,
                branch=branch,
                limits=self._limits,
                should_cancel=should_cancel,
                allow_hosts=self._settings.allow_hosts,
            )
        name = repository.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") or repository
        return SourceInfo(kind="git", name=name, repository=repository if kind == "git" else None, branch=branch)

    async def _store_reports(self, audit_id: uuid.UUID, result: AuditReport) -> None:
        rendered = {
            "json": render_json(result),
            "html": render_html(result).encode(),
            "sbom": await asyncio.to_thread(render_sbom, result),
            "pdf": await asyncio.to_thread(render_pdf, result),
        }
        for fmt, data in rendered.items():
            await self._objects.put_bytes(report_key(audit_id, fmt), data, content_type=REPORT_FORMATS[fmt])

    async def _finish(
        self,
        audit_id: uuid.UUID,
        owner: str,
        status: contract.AuditStatus,
        *,
        result: AuditReport | None = None,
        error: str | None = None,
    ) -> None:
        summary = msgspec.to_builtins(result.summary) if result else None
        reports = {fmt: report_key(audit_id, fmt) for fmt in REPORT_FORMATS} if result else {}
        files = result.summary.files_scanned if result else 0
        async with self._db.transaction() as conn:
            finished = await conn.fetchval(
                "UPDATE audits SET status = $2, stage = $2, progress = CASE WHEN $2 = 'completed' THEN 100 ELSE progress END,"
                " summary = $3, reports = $4, files_scanned = $5, error = $6, completed_at = now(), updated_at = now()"
                " WHERE id = $1 AND status = 'running' RETURNING true",
                audit_id,
                status,
                summary,
                reports,
                files,
                error,
            )
            if not finished:
                return
            await enqueue_event(
                conn,
                contract.AUDIT_COMPLETED if status == "completed" else contract.AUDIT_FAILED,
                new_event(
                    f"audit.{status}",
                    contract.AuditFinished(
                        audit_id=str(audit_id),
                        owner_id=owner,
                        status=status,
                        files_scanned=files,
                        verdict=result.summary.verdict if result else None,
                        error=error,
                    ),
                    actor=owner,
                ),
            )
        log.info("audit finished", audit_id=str(audit_id), status=status, files=files, error=error)

    async def _publish_progress(self, audit_id: uuid.UUID, owner: str, progress: float, stage: str) -> None:
        # Advisory (the row is the truth), so published directly rather than through the outbox.
        event = new_event(
            "audit.progress",
            contract.AuditProgress(
                audit_id=str(audit_id), owner_id=owner, status="running", progress=round(progress, 1), stage=stage
            ),
        )
        try:
            await self._nats.nc.publish(contract.AUDIT_PROGRESS, _encoder.encode(event))
        except Exception:
            log.debug("progress not published", audit_id=str(audit_id))

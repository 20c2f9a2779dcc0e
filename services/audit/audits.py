"""The audit service's request side: accept repositories and archives, report, cancel, serve reports."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path, PurePath
from typing import Any

import asyncpg

from libs.contracts import audit as contract
from libs.events import NatsConnection, enqueue_event, new_event
from libs.http import ApiError, Page
from libs.http.multipart import ReceivedFile
from libs.identity import Principal
from libs.logging import get_logger
from libs.storage import ObjectStore
from libs.storage.files import upload_file
from services.audit.scanner import RepositoryRefused, validate_repo_url
from services.audit.scanner.source import validate_branch
from services.audit.schemas import Audit, AuditList, DeletedAudit
from services.audit.settings import AuditSettings
from services.audit.store import AuditStore, parse_id
from services.audit.usage import UsageService

log = get_logger(__name__)
REPORT_FORMATS = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "sbom": "application/vnd.cyclonedx+json",
}
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")


def report_key(audit_id: uuid.UUID | str, fmt: str) -> str:
    return f"reports/{audit_id}/report.{fmt}"


def audit_from_row(row: asyncpg.Record) -> Audit:
    return Audit(
        id=str(row["id"]),
        repository=row["repository"],
        source_kind=row["source_kind"],
        branch=row["branch"],
        status=row["status"],
        progress=round(float(row["progress"]), 1),
        stage=row["stage"],
        files_scanned=row["files_scanned"],
        error=row["error"],
        summary=row["summary"],
        formats=sorted(row["reports"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        updated_at=row["updated_at"],
    )


class AuditService:
    def __init__(
        self,
        store: AuditStore,
        objects: ObjectStore,
        nats: NatsConnection,
        settings: AuditSettings,
        usage: UsageService,
    ) -> None:
        self.store = store
        self.objects = objects
        self.nats = nats
        self.settings = settings
        self.usage = usage

    def _local_path(self, repository: str) -> Path | None:
        """A repository path under the configured local root (development and tests only)."""
        root = self.settings.local_repository_root
        if not root or not repository.startswith("/"):
            return None
        path = Path(repository).resolve()
        base = Path(root).resolve()
        if base != path and base not in path.parents:
            raise ApiError(422, "Local repositories must be under the configured root", error_code="AUDIT_URL")
        if not (path / ".git").exists() and not (path / "HEAD").exists():
            raise ApiError(422, "Not a git repository", error_code="AUDIT_URL")
        return path

    async def submit_repository(self, principal: Principal, repository: str, branch: str | None) -> Audit:
        repository = repository.strip()
        if branch is not None:
            try:
                branch = validate_branch(branch)
            except RepositoryRefused as exc:
                raise ApiError(422, str(exc), error_code="AUDIT_BRANCH") from exc
        local = self._local_path(repository)
        if local is None:
            try:
                repository = await asyncio.to_thread(
                    validate_repo_url, repository, allow_hosts=self.settings.allow_hosts
                )
            except RepositoryRefused as exc:
                raise ApiError(422, f"Repository refused: {exc}", error_code="AUDIT_URL") from exc
        return await self._queue(principal, repository=repository, kind="local" if local else "git", branch=branch)

    async def submit_archive(self, principal: Principal, received: ReceivedFile) -> Audit:
        # Control characters go (PostgreSQL text cannot even hold NUL).
        printable = "".join(ch for ch in received.filename or "" if ch >= " " and ch != "\x7f")
        name = PurePath(printable.replace("\\", "/")).name[:255]
        if not name.lower().endswith(ARCHIVE_SUFFIXES):
            raise ApiError(
                415, "Upload a .zip, .tar.gz, .tgz or .tar archive of the repository", error_code="AUDIT_415"
            )
        await self.usage.enforce_quota(principal)
        audit_id = uuid.uuid4()
        suffix = next(s for s in ARCHIVE_SUFFIXES if name.lower().endswith(s))
        key = f"archives/{audit_id}/source{suffix}"
        await upload_file(self.objects, key, received.path)
        try:
            return await self._queue(
                principal, repository=name, kind="archive", branch=None, audit_id=audit_id, archive_key=key
            )
        except BaseException:
            await self.objects.delete(key)
            raise

    async def _queue(
        self,
        principal: Principal,
        *,
        repository: str,
        kind: str,
        branch: str | None,
        audit_id: uuid.UUID | None = None,
        archive_key: str | None = None,
    ) -> Audit:
        await self.usage.enforce_quota(principal)
        audit_id = audit_id or uuid.uuid4()
        async with self.store.db.transaction() as conn:
            row = await self.store.insert(
                conn,
                id=audit_id,
                owner_id=principal.user_id,
                repository=repository,
                source_kind=kind,
                branch=branch,
                archive_key=archive_key,
            )
            await enqueue_event(
                conn,
                contract.AUDIT_REQUESTED,
                new_event(
                    "audit.requested",
                    contract.AuditRequested(audit_id=str(audit_id), owner_id=principal.user_id),
                    actor=principal.user_id,
                ),
            )
        log.info("audit queued", audit_id=str(audit_id), kind=kind)
        return audit_from_row(row)

    async def owned(self, principal: Principal, audit_id: str) -> asyncpg.Record:
        """The caller's audit; another user's audit is indistinguishable from a missing one (404)."""
        aid = parse_id(audit_id)
        row = await self.store.get(aid) if aid else None
        if row is None or (row["owner_id"] != principal.user_id and not principal.is_admin):
            raise ApiError(404, "Audit not found", error_code="AUDIT_404")
        return row

    async def list(
        self, principal: Principal, *, status: str | None, repository: str | None, skip: int, limit: int
    ) -> AuditList:
        rows, total = await self.store.list(
            principal.user_id, status=status, repository=repository, skip=skip, limit=limit
        )
        audits = [audit_from_row(r) for r in rows]
        return AuditList(audits=audits, pagination=Page.of(count=len(audits), total=total, skip=skip, limit=limit))

    async def delete(self, principal: Principal, audit_id: str) -> DeletedAudit:
        row = await self.owned(principal, audit_id)
        async with self.store.db.transaction() as conn:
            updated = await conn.fetchrow(
                "UPDATE audits SET deleted_at = now(), updated_at = now(),"
                " status = CASE WHEN status IN ('queued', 'running') THEN 'cancelled' ELSE status END"
                " WHERE id = $1 AND deleted_at IS NULL RETURNING status",
                row["id"],
            )
            if updated is None:
                raise ApiError(404, "Audit not found", error_code="AUDIT_404")
            if row["status"] in ("queued", "running"):
                await enqueue_event(
                    conn,
                    contract.AUDIT_CANCELLED,
                    new_event(
                        "audit.cancelled",
                        contract.AuditFinished(audit_id=str(row["id"]), owner_id=row["owner_id"], status="cancelled"),
                        actor=principal.user_id,
                    ),
                )
        keys = [report_key(row["id"], fmt) for fmt in REPORT_FORMATS]
        if row["archive_key"]:
            keys.append(row["archive_key"])
        await asyncio.gather(*(self.objects.delete(key) for key in keys))
        return DeletedAudit(id=str(row["id"]), status=updated["status"], reports_removed=len(row["reports"]))

    async def report(self, principal: Principal, audit_id: str, fmt: str) -> tuple[asyncpg.Record, Any]:
        row = await self.owned(principal, audit_id)
        if row["status"] != "completed":
            raise ApiError(
                409, f"Audit is {row['status']}; the report is available once it is completed", error_code="AUDIT_409"
            )
        key = report_key(row["id"], fmt)
        if await self.objects.stat(key) is None:
            raise ApiError(404, "Report is missing from storage", error_code="AUDIT_410")
        return row, self.objects.get_stream(key)

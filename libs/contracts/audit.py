"""Contracts of the audit service: the audit work queue and audit lifecycle events."""

from __future__ import annotations

from typing import Literal

import msgspec

from libs.events.streams import StreamSpec

AUDIT_REQUESTED = "audit.audit.requested"
AUDIT_PROGRESS = "audit.audit.progress"
AUDIT_COMPLETED = "audit.audit.completed"
AUDIT_FAILED = "audit.audit.failed"
AUDIT_CANCELLED = "audit.audit.cancelled"

JOBS_STREAM = StreamSpec("AUDIT_JOBS", (AUDIT_REQUESTED,), work_queue=True, description="audit work queue")
STREAM = StreamSpec(
    "AUDIT",
    (AUDIT_PROGRESS, AUDIT_COMPLETED, AUDIT_FAILED, AUDIT_CANCELLED),
    description="audit lifecycle",
    max_age_seconds=24 * 3600,
)

AuditStatus = Literal["queued", "running", "completed", "failed", "cancelled"]


class AuditRequested(msgspec.Struct, frozen=True, kw_only=True):
    audit_id: str
    owner_id: str


class AuditProgress(msgspec.Struct, frozen=True, kw_only=True):
    audit_id: str
    owner_id: str
    status: AuditStatus
    progress: float
    stage: str


class AuditFinished(msgspec.Struct, frozen=True, kw_only=True):
    audit_id: str
    owner_id: str
    status: AuditStatus
    files_scanned: int = 0
    verdict: str | None = None
    error: str | None = None

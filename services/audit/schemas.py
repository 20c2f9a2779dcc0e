"""Request and response bodies of the audit and usage APIs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec

from libs.contracts.audit import AuditStatus
from libs.http import Page


class AuditRequest(msgspec.Struct, forbid_unknown_fields=True):
    repository: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    branch: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None


class Audit(msgspec.Struct):
    id: str
    repository: str
    source_kind: str
    branch: str | None
    status: AuditStatus
    progress: float
    stage: str
    files_scanned: int
    error: str | None
    summary: dict[str, Any] | None
    formats: list[str]
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime


class AuditList(msgspec.Struct):
    audits: list[Audit]
    pagination: Page


class DeletedAudit(msgspec.Struct):
    id: str
    status: AuditStatus
    reports_removed: int


class UsageCounts(msgspec.Struct):
    audits_run: int = 0
    files_scanned: int = 0
    files_uploaded: int = 0
    bytes_uploaded: int = 0
    audio_minutes: float = 0.0


class UsageStats(msgspec.Struct):
    user_id: str
    tier: str
    period_start: date
    period_end: date
    this_month: UsageCounts
    all_time: UsageCounts
    monthly_audit_limit: int | None
    audits_remaining: int | None


class UsageDay(msgspec.Struct):
    date: date
    audits_run: int
    files_scanned: int
    files_uploaded: int
    bytes_uploaded: int
    audio_minutes: float


class UsageHistory(msgspec.Struct):
    user_id: str
    days: int
    history: list[UsageDay]


class TierChange(msgspec.Struct, forbid_unknown_fields=True):
    tier: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]

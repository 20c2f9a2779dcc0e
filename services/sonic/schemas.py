"""Response bodies of Sonic Codex."""

from __future__ import annotations

from datetime import datetime

import msgspec

from libs.contracts.sonic import JobStatus
from libs.http import Page


class QueuedJob(msgspec.Struct):
    job_id: str
    status: JobStatus
    filename: str
    duration: float
    model: str


class Job(msgspec.Struct):
    job_id: str
    status: JobStatus
    progress: float
    stage: str
    filename: str
    size: int
    duration: float | None
    model: str
    language: str | None
    detected_language: str | None
    language_probability: float | None
    word_timestamps: bool
    vad: bool
    error: str | None
    formats: list[str]
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime


class JobList(msgspec.Struct):
    jobs: list[Job]
    pagination: Page


class DeletedJob(msgspec.Struct):
    job_id: str
    status: JobStatus
    objects_removed: int

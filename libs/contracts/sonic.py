"""Contracts of the sonic service: the transcription work queue and job lifecycle events.

`sonic.job.created` lives in its own work-queue stream, so worker replicas share the jobs and a
job is removed from the stream once a worker acknowledges it. Lifecycle events (progress,
completed, failed, cancelled) live in the SONIC stream, where any number of readers may follow.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from libs.events.streams import StreamSpec

JOB_CREATED = "sonic.job.created"
JOB_PROGRESS = "sonic.job.progress"
JOB_COMPLETED = "sonic.job.completed"
JOB_FAILED = "sonic.job.failed"
JOB_CANCELLED = "sonic.job.cancelled"

JOBS_STREAM = StreamSpec("SONIC_JOBS", (JOB_CREATED,), work_queue=True, description="transcription work queue")
STREAM = StreamSpec(
    "SONIC",
    (JOB_PROGRESS, JOB_COMPLETED, JOB_FAILED, JOB_CANCELLED),
    description="transcription job lifecycle",
    max_age_seconds=24 * 3600,
)

JobStatus = Literal["queued", "processing", "completed", "failed", "cancelled"]


class JobCreated(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    owner_id: str


class JobProgress(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    owner_id: str
    status: JobStatus
    progress: float
    stage: str


class JobFinished(msgspec.Struct, frozen=True, kw_only=True):
    """Completed, failed or cancelled; `audio_seconds` feeds usage statistics."""

    job_id: str
    owner_id: str
    status: JobStatus
    audio_seconds: float = 0.0
    language: str | None = None
    error: str | None = None

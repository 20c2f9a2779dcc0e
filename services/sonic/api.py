"""HTTP and WebSocket routes of Sonic Codex (`/api/v1/trapdoor/sonic/…`)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, Router, WebSocket, delete, get, post, websocket
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath, FromQuery, Parameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED
from nats.aio.msg import Msg

from libs.contracts import sonic as contract
from libs.events import Envelope
from libs.http import ApiError, Success, ok
from libs.http.job_events import stream_job_updates
from libs.http.multipart import MalformedUpload, UploadTooLarge, receive_to_file
from libs.http.openapi import documented, errors, multipart_body
from libs.http.params import Skip
from libs.identity import Principal
from libs.logging import get_logger
from services.sonic.jobs import JobService, job_from_row
from services.sonic.outputs import OutputFormat
from services.sonic.schemas import DeletedJob, Job, JobList, QueuedJob

log = get_logger(__name__)
JobId = FromPath[Annotated[str, Parameter(max_length=64)]]
FINAL = frozenset({"completed", "failed", "cancelled"})
_progress_decoder = msgspec.json.Decoder(Envelope[contract.JobProgress])
_finished_decoder = msgspec.json.Decoder(Envelope[contract.JobFinished])


def jobs_dependency(request: Request[Any, Any, Any]) -> JobService:
    service: JobService = request.app.state["sonic"]
    return service


class SonicController(Controller):
    path = "/api/v1/trapdoor/sonic"
    tags = ["sonic"]

    @post(
        "/upload",
        status_code=HTTP_202_ACCEPTED,
        request_max_body_size=None,
        responses=errors(413, 415, 422),
        operation_class=documented(
            body=multipart_body(
                "The audio or video file, as the multipart field `file`, and transcription options",
                {
                    "language": Schema(type=OpenAPIType.STRING, description="`en`, or empty to detect"),
                    "model": Schema(type=OpenAPIType.STRING, description="the configured model only"),
                    "word_timestamps": Schema(type=OpenAPIType.STRING, enum=["true", "false"]),
                    "vad": Schema(type=OpenAPIType.STRING, enum=["true", "false"]),
                },
            )
        ),
    )
    async def upload(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], jobs: NamedDependency[JobService]
    ) -> Success[QueuedJob]:
        """Queue a transcription: multipart `file` (audio or video), optional form fields `language`,
        `model`, `word_timestamps`, `vad` (query parameters of the same names also work)."""
        try:
            received = await receive_to_file(
                request.stream(), request.headers.get("content-type"), max_bytes=jobs.settings.max_file_size
            )
        except UploadTooLarge as exc:
            raise ApiError(413, str(exc), error_code="SONIC_413") from exc
        except MalformedUpload as exc:
            raise ApiError(400, str(exc), error_code="SONIC_400") from exc
        try:
            if received.size == 0:
                raise ApiError(400, "Empty file", error_code="SONIC_400")
            options = {**{k: v for k, v in request.query_params.items() if isinstance(v, str)}, **received.fields}
            queued = await jobs.submit(principal, received, options)
        finally:
            received.path.unlink(missing_ok=True)
        return ok(queued, "Transcription queued")

    @get("/jobs", responses=errors(422))
    async def list_jobs(
        self,
        principal: NamedDependency[Principal],
        jobs: NamedDependency[JobService],
        status: FromQuery[contract.JobStatus | None] = None,
        skip: FromQuery[Skip] = 0,
        limit: FromQuery[Annotated[int, Parameter(ge=1, le=100)]] = 20,
    ) -> Success[JobList]:
        """The caller's jobs, newest first, optionally filtered by status."""
        return ok(await jobs.list(principal, status=status, skip=skip, limit=limit))

    @get("/jobs/{job_id:str}", responses=errors(404, 422))
    async def get_job(
        self, job_id: JobId, principal: NamedDependency[Principal], jobs: NamedDependency[JobService]
    ) -> Success[Job]:
        return ok(job_from_row(await jobs.owned(principal, job_id)))

    @delete("/jobs/{job_id:str}", status_code=HTTP_200_OK, responses=errors(404, 422))
    async def delete_job(
        self, job_id: JobId, principal: NamedDependency[Principal], jobs: NamedDependency[JobService]
    ) -> Success[DeletedJob]:
        """Cancel the job if it is queued or running, and remove its media and transcripts."""
        return ok(await jobs.delete(principal, job_id), "Job deleted")

    @get(
        "/jobs/{job_id:str}/download",
        responses=errors(404, 409, 422),
        operation_class=documented(files={200: sorted({f.media_type for f in OutputFormat})}),
    )
    async def download(
        self,
        job_id: JobId,
        principal: NamedDependency[Principal],
        jobs: NamedDependency[JobService],
        format: FromQuery[OutputFormat] = OutputFormat.TXT,
    ) -> Response[Any]:
        """A transcript (`txt`, `srt`, `vtt`, `json`) or the `zip` package; 409 until the job is completed."""
        row, body = await jobs.download(principal, job_id, format)
        stem = row["original_filename"].rsplit(".", 1)[0] or "transcript"
        name = f"{stem}.{format.extension}" if format is not OutputFormat.ZIP else f"{stem}_transcript.zip"
        safe = "".join(ch if ch.isalnum() or ch in "._- " else "_" for ch in name)
        return Stream(
            body,
            # Litestar adds `; charset=utf-8` to text types itself (given it too, it sent it twice).
            media_type=format.media_type.partition(";")[0],
            headers={"Content-Disposition": f'attachment; filename="{safe}"', "X-Job-ID": str(row["id"])},
        )

    @websocket("/ws/{job_id:str}")
    async def job_events(self, socket: WebSocket[Any, Any, Any], job_id: JobId) -> None:
        """Pushes `{job_id, status, progress, stage}` as the job changes; closes on a final state.
        Authenticate with the Authorization header or, from a browser, `?token=`."""
        jobs: JobService = socket.app.state["sonic"]
        try:
            row = await jobs.owned(socket.user, job_id)
        except ApiError:
            await socket.close(code=4404, reason="Job not found")
            return
        await socket.accept()
        wanted = str(row["id"])

        def decode(msg: Msg) -> dict[str, Any] | None:
            if msg.subject == contract.JOB_PROGRESS:
                progress = _progress_decoder.decode(msg.data).data
                if progress.job_id != wanted:
                    return None
                return {
                    "job_id": wanted,
                    "status": progress.status,
                    "progress": progress.progress,
                    "stage": progress.stage,
                }
            finished = _finished_decoder.decode(msg.data).data
            if finished.job_id != wanted:
                return None
            done = 100.0 if finished.status == "completed" else None
            return {"job_id": wanted, "status": finished.status, "progress": done, "stage": finished.status}

        async def current() -> dict[str, Any]:
            fresh = await jobs.store.get(row["id"])
            if fresh is None:
                return {"job_id": wanted, "status": "cancelled", "progress": None, "stage": "deleted"}
            job = job_from_row(fresh)
            return {"job_id": wanted, "status": job.status, "progress": job.progress, "stage": job.stage}

        await stream_job_updates(
            socket,
            nats=jobs.nats,
            subjects=(contract.JOB_PROGRESS, contract.JOB_COMPLETED, contract.JOB_FAILED, contract.JOB_CANCELLED),
            decode=decode,
            current=current,
            final=FINAL,
        )


def routes() -> list[Router]:
    return [
        Router(
            path="/",
            route_handlers=[SonicController],
            dependencies={"jobs": Provide(jobs_dependency, sync_to_thread=False)},
        )
    ]

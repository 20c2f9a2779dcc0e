"""HTTP and WebSocket routes of the ForgeTrace audit and usage APIs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, Router, WebSocket, delete, get, post, put, websocket
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Schema
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED
from nats.aio.msg import Msg

from libs.contracts import audit as contract
from libs.events import Envelope
from libs.http import ApiError, Success, ok
from libs.http.job_events import stream_job_updates
from libs.http.multipart import MalformedUpload, UploadTooLarge, receive_to_file
from libs.http.openapi import documented, errors, multipart_body
from libs.http.params import NO_NUL, Skip
from libs.identity import Principal, requires_admin
from services.audit.audits import REPORT_FORMATS, AuditService, audit_from_row
from services.audit.schemas import (
    Audit,
    AuditList,
    AuditRequest,
    DeletedAudit,
    TierChange,
    UsageHistory,
    UsageStats,
)

AuditId = FromPath[Annotated[str, Parameter(max_length=64)]]
UserId = FromPath[Annotated[str, Parameter(max_length=64, pattern=NO_NUL)]]
FINAL = frozenset({"completed", "failed", "cancelled"})
MAX_JSON_BODY = 64 * 1024
_request_decoder = msgspec.json.Decoder(AuditRequest)
AUDIT_REQUEST_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    properties={
        "repository": Schema(type=OpenAPIType.STRING, min_length=1, max_length=2048, description="https:// git URL"),
        "branch": Schema(
            one_of=[Schema(type=OpenAPIType.STRING, min_length=1, max_length=255), Schema(type=OpenAPIType.NULL)]
        ),
    },
    required=["repository"],
    additional_properties=False,
)
_progress_decoder = msgspec.json.Decoder(Envelope[contract.AuditProgress])
_finished_decoder = msgspec.json.Decoder(Envelope[contract.AuditFinished])


def audits_dependency(request: Request[Any, Any, Any]) -> AuditService:
    service: AuditService = request.app.state["audit"]
    return service


class AuditController(Controller):
    path = "/api/v1/audits"
    tags = ["audits"]

    @post(
        "/",
        status_code=HTTP_202_ACCEPTED,
        request_max_body_size=None,
        responses=errors(413, 415, 422, 429),
        operation_class=documented(
            body=multipart_body(
                "A public git repository as JSON, or an archive (.zip, .tar.gz, .tgz, .tar) as the multipart field `file`",
                also={"application/json": OpenAPIMediaType(schema=AUDIT_REQUEST_SCHEMA)},
            )
        ),
    )
    async def submit(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        audits: NamedDependency[AuditService],
    ) -> Success[Audit]:
        """Queue an audit: JSON `{"repository": "https://…", "branch"?: "…"}` for a public git
        repository, or a multipart upload (`file`: .zip/.tar.gz/.tgz/.tar) of a private one."""
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            try:
                received = await receive_to_file(
                    request.stream(), content_type, max_bytes=audits.settings.max_archive_size
                )
            except UploadTooLarge as exc:
                raise ApiError(413, str(exc), error_code="AUDIT_413") from exc
            except MalformedUpload as exc:
                raise ApiError(400, str(exc), error_code="AUDIT_400") from exc
            try:
                return ok(await audits.submit_archive(principal, received), "Audit queued")
            finally:
                received.path.unlink(missing_ok=True)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_JSON_BODY:
                raise ApiError(413, "Request body too large", error_code="AUDIT_413")
        try:
            data = _request_decoder.decode(bytes(body))
        except msgspec.ValidationError as exc:
            raise ApiError(422, f"Validation failed: {exc}", error_code="VALIDATION_ERROR") from exc
        except msgspec.DecodeError as exc:
            raise ApiError(
                400, "Body must be JSON {repository, branch?} or a multipart archive upload", error_code="AUDIT_400"
            ) from exc
        return ok(await audits.submit_repository(principal, data.repository, data.branch), "Audit queued")

    @get("/", responses=errors(422))
    async def list_audits(
        self,
        principal: NamedDependency[Principal],
        audits: NamedDependency[AuditService],
        status: FromQuery[contract.AuditStatus | None] = None,
        repository: FromQuery[Annotated[str | None, Parameter(max_length=200, pattern=NO_NUL)]] = None,
        skip: FromQuery[Skip] = 0,
        limit: FromQuery[Annotated[int, Parameter(ge=1, le=100)]] = 20,
    ) -> Success[AuditList]:
        """The caller's audits, newest first; filter by status and by repository (substring)."""
        return ok(await audits.list(principal, status=status, repository=repository, skip=skip, limit=limit))

    @get("/{audit_id:str}", responses=errors(404, 422))
    async def get_audit(
        self, audit_id: AuditId, principal: NamedDependency[Principal], audits: NamedDependency[AuditService]
    ) -> Success[Audit]:
        return ok(audit_from_row(await audits.owned(principal, audit_id)))

    @delete("/{audit_id:str}", status_code=HTTP_200_OK, responses=errors(404, 422))
    async def delete_audit(
        self, audit_id: AuditId, principal: NamedDependency[Principal], audits: NamedDependency[AuditService]
    ) -> Success[DeletedAudit]:
        """Cancel the audit if it is queued or running, and remove its stored reports."""
        return ok(await audits.delete(principal, audit_id), "Audit deleted")

    @get(
        "/{audit_id:str}/report",
        responses=errors(404, 409, 422),
        operation_class=documented(files={200: sorted(REPORT_FORMATS.values())}),
    )
    async def report(
        self,
        audit_id: AuditId,
        principal: NamedDependency[Principal],
        audits: NamedDependency[AuditService],
        format: FromQuery[Literal["json", "html", "pdf", "sbom"]] = "json",
    ) -> Response[Any]:
        """The report as JSON, HTML, PDF, or a CycloneDX SBOM (`sbom`); 409 until the audit is completed."""
        row, body = await audits.report(principal, audit_id, format)
        extension = {"json": "json", "html": "html", "pdf": "pdf", "sbom": "cdx.json"}[format]
        return Stream(
            body,
            # Litestar adds `; charset=utf-8` to text types itself (given it too, it sent it twice).
            media_type=REPORT_FORMATS[format].partition(";")[0],
            headers={
                "Content-Disposition": f'attachment; filename="audit-{row["id"]}.{extension}"',
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            },
        )

    @websocket("/{audit_id:str}/events")
    async def events(self, socket: WebSocket[Any, Any, Any], audit_id: AuditId) -> None:
        """Pushes `{id, status, progress, stage}` by stage; closes when the audit ends."""
        audits: AuditService = socket.app.state["audit"]
        try:
            row = await audits.owned(socket.user, audit_id)
        except ApiError:
            await socket.close(code=4404, reason="Audit not found")
            return
        await socket.accept()
        wanted = str(row["id"])

        def decode(msg: Msg) -> dict[str, Any] | None:
            if msg.subject == contract.AUDIT_PROGRESS:
                progress = _progress_decoder.decode(msg.data).data
                if progress.audit_id != wanted:
                    return None
                return {"id": wanted, "status": progress.status, "progress": progress.progress, "stage": progress.stage}
            finished = _finished_decoder.decode(msg.data).data
            if finished.audit_id != wanted:
                return None
            done = 100.0 if finished.status == "completed" else None
            return {"id": wanted, "status": finished.status, "progress": done, "stage": finished.status}

        async def current() -> dict[str, Any]:
            fresh = await audits.store.get(row["id"])
            if fresh is None:
                return {"id": wanted, "status": "cancelled", "progress": None, "stage": "deleted"}
            audit = audit_from_row(fresh)
            return {"id": wanted, "status": audit.status, "progress": audit.progress, "stage": audit.stage}

        await stream_job_updates(
            socket,
            nats=audits.nats,
            subjects=(
                contract.AUDIT_PROGRESS,
                contract.AUDIT_COMPLETED,
                contract.AUDIT_FAILED,
                contract.AUDIT_CANCELLED,
            ),
            decode=decode,
            current=current,
            final=FINAL,
        )


UserFilter = FromQuery[
    Annotated[str | None, Parameter(max_length=64, pattern=NO_NUL, description="admins: another user's id")]
]


class UsageController(Controller):
    path = "/api/v1/usage"
    tags = ["usage"]

    @staticmethod
    def _subject(principal: Principal, user_id: str | None) -> str:
        if user_id is None or user_id == principal.user_id:
            return principal.user_id
        if not principal.is_admin:
            raise ApiError(403, "Only admins can see another user's usage", error_code="AUDIT_403")
        return user_id

    @get("/stats", responses=errors(403, 422))
    async def stats(
        self, principal: NamedDependency[Principal], audits: NamedDependency[AuditService], user_id: UserFilter = None
    ) -> Success[UsageStats]:
        """This month's and all-time usage (audits, files scanned, uploads, audio minutes) and the audit quota."""
        return ok(await audits.usage.stats(principal, self._subject(principal, user_id)))

    @get("/history", responses=errors(403, 422))
    async def history(
        self,
        principal: NamedDependency[Principal],
        audits: NamedDependency[AuditService],
        days: FromQuery[Annotated[int, Parameter(ge=1, le=366)]] = 30,
        user_id: UserFilter = None,
    ) -> Success[UsageHistory]:
        """Usage per day for the last `days` days (oldest first)."""
        return ok(await audits.usage.history(self._subject(principal, user_id), days))

    @put("/tiers/{user_id:str}", guards=[requires_admin], responses=errors(403, 422))
    async def set_tier(
        self, user_id: UserId, data: JSONBody[TierChange], audits: NamedDependency[AuditService]
    ) -> Success[dict[str, str]]:
        """Admins: put a user on a tier (its monthly audit limit comes from AUDIT_TIER_LIMITS)."""
        await audits.usage.set_tier(user_id, data.tier)
        return ok({"user_id": user_id, "tier": data.tier})


def routes() -> list[Router]:
    return [
        Router(
            path="/",
            route_handlers=[AuditController, UsageController],
            dependencies={"audits": Provide(audits_dependency, sync_to_thread=False)},
        )
    ]

"""HTTP routes of the Exam Hub upload API (`/upload/…`)."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, Response, Router, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, Parameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from libs.http import ApiError, Success, ok
from libs.http.multipart import MalformedUpload, MultipartFileStream, UploadTooLarge, multipart_boundary
from libs.http.openapi import PublicOperation, documented, errors, header, multipart_body
from libs.http.params import Skip
from libs.identity import Principal, requires_admin
from services.upload.filenames import ascii_fallback
from services.upload.files import FileService
from services.upload.schemas import (
    AdminFileList,
    DeletedFile,
    FileInfo,
    FileList,
    Health,
    HealthChecks,
    UploadedFile,
    UploadStats,
)

Limit = FromQuery[Annotated[int, Parameter(ge=1, le=1000, description="files per page (max 1000)")]]
FileId = FromPath[Annotated[str, Parameter(max_length=64)]]
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# What libmagic may have found in an accepted upload (`content_types.EXPECTED`): the download's type.
DOWNLOAD_TYPES = ("text/*", "application/*", "image/*", "audio/*")


def files_dependency(request: Request[Any, Any, Any]) -> FileService:
    service: FileService = request.app.state["upload"]
    return service


def content_disposition(name: str) -> str:
    """RFC 6266: an ASCII `filename` for old clients and the exact name in `filename*`."""
    return f"attachment; filename=\"{ascii_fallback(name)}\"; filename*=UTF-8''{quote(name, safe='')}"


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """A single `bytes=` range as inclusive (start, end); None for the whole file; 416 if unsatisfiable."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None  # unsupported forms (e.g. several ranges) get the whole file, as RFC 9110 allows
    first, last = match.groups()
    if first == "":
        length = int(last)
        if length == 0:
            raise ApiError(416, "Range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise ApiError(416, "Range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
    return start, end


class UploadController(Controller):
    path = "/upload"
    tags = ["upload"]

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        # The real limit is MAX_UPLOAD_SIZE, enforced while streaming; this caps the whole body.
        request_max_body_size=None,
        description="Upload one file as multipart/form-data field `file`. The body is streamed to storage.",
        responses=errors(413),
        operation_class=documented(body=multipart_body("The file, as the multipart field `file`")),
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        files: NamedDependency[FileService],
    ) -> Success[UploadedFile]:
        limit = files.settings.max_upload_size
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
            raise ApiError(413, f"File exceeds the maximum size of {limit} bytes", error_code="UPLOAD_413")
        try:
            boundary = multipart_boundary(request.headers.get("content-type"))
            incoming = MultipartFileStream(request.stream(), boundary, max_bytes=limit)
            stored = await files.receive(principal, incoming)
        except UploadTooLarge as exc:
            raise ApiError(413, str(exc), error_code="UPLOAD_413") from exc
        except MalformedUpload as exc:
            raise ApiError(400, str(exc), error_code="UPLOAD_001") from exc
        return ok(stored, "File uploaded successfully")

    @get("/", description="The caller's files, newest first.", responses=errors(422))
    async def list_files(
        self,
        principal: NamedDependency[Principal],
        files: NamedDependency[FileService],
        skip: FromQuery[Skip] = 0,
        limit: Limit = 100,
    ) -> Success[FileList]:
        return ok(await files.list_own(principal, skip=skip, limit=limit))

    @get("/{file_id:str}/info", responses=errors(403, 404, 422))
    async def info(
        self, file_id: FileId, principal: NamedDependency[Principal], files: NamedDependency[FileService]
    ) -> Success[FileInfo]:
        return ok(await files.info(principal, file_id))

    @get(
        "/{file_id:str}/download",
        description="The file's bytes; supports `Range` for resuming.",
        responses={
            **errors(403, 404, 416, 422),
            304: ResponseSpec(data_container=None, description="Not modified (`If-None-Match` matched the ETag)"),
        },
        operation_class=documented(
            files={200: DOWNLOAD_TYPES, 206: DOWNLOAD_TYPES},
            headers=[
                header("Range", "One `bytes=start-end` range (206); other forms get the whole file"),
                header("If-None-Match", "The ETag of a copy the client has (304)"),
                header("If-Range", "Apply `Range` only if the file still has this ETag"),
            ],
        ),
    )
    async def download(
        self,
        request: Request[Any, Any, Any],
        file_id: FileId,
        principal: NamedDependency[Principal],
        files: NamedDependency[FileService],
    ) -> Response[Any]:
        row = await files.owned_file(principal, file_id)
        size = int(row["size"])
        etag = f'"{row["file_hash"]}"'
        headers = {
            "Content-Disposition": content_disposition(row["original_filename"]),
            "X-File-ID": str(row["id"]),
            "X-File-Size": str(size),
            "ETag": etag,
            "Accept-Ranges": "bytes",
            "Cache-Control": "private, no-cache",
            "X-Content-Type-Options": "nosniff",
        }
        if request.headers.get("if-none-match") == etag:
            return Response(content=b"", status_code=304, headers=headers)
        if_range = request.headers.get("if-range")
        byte_range = parse_range(request.headers.get("range"), size) if if_range in (None, etag) else None
        _, body = await files.open_download(principal, file_id, byte_range)
        if byte_range is None:
            headers["Content-Length"] = str(size)
            return Stream(body, media_type=row["content_type"], headers=headers, status_code=HTTP_200_OK)
        start, end = byte_range
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1)
        return Stream(body, media_type=row["content_type"], headers=headers, status_code=206)

    @delete("/{file_id:str}", status_code=HTTP_200_OK, responses=errors(403, 404, 422))
    async def remove(
        self, file_id: FileId, principal: NamedDependency[Principal], files: NamedDependency[FileService]
    ) -> Success[DeletedFile]:
        return ok(await files.delete(principal, file_id), "File deleted successfully")

    @get("/admin/files", guards=[requires_admin], responses=errors(403, 422))
    async def admin_files(
        self,
        principal: NamedDependency[Principal],
        files: NamedDependency[FileService],
        skip: FromQuery[Skip] = 0,
        limit: Limit = 100,
    ) -> Success[AdminFileList]:
        return ok(await files.list_all(principal, skip=skip, limit=limit))

    @get("/admin/stats", guards=[requires_admin], responses=errors(403))
    async def admin_stats(
        self, principal: NamedDependency[Principal], files: NamedDependency[FileService]
    ) -> Success[UploadStats]:
        return ok(await files.stats(principal))

    @get(
        "/health",
        opt={"exclude_from_auth": True},
        responses={503: ResponseSpec(data_container=Success[Health], description="Storage or database unusable")},
        operation_class=PublicOperation,
    )
    async def health(self, files: NamedDependency[FileService]) -> Response[Success[Health]]:
        storage_ok = database_ok = writable = True
        try:
            await files.objects.check()
        except Exception:
            storage_ok = writable = False
        if storage_ok:
            try:
                await files.objects.put_bytes("health/probe", b"ok")
                await files.objects.delete("health/probe")
            except Exception:
                writable = False
        try:
            await files.store.db.check()
        except Exception:
            database_ok = False
        healthy = storage_ok and writable and database_ok
        body = Health(
            service="upload",
            status="healthy" if healthy else "unhealthy",
            checks=HealthChecks(
                upload_folder_exists=storage_ok,
                upload_folder_writable=writable,
                database_integration=database_ok,
                security_enabled=True,
            ),
        )
        return Response(ok(body), status_code=200 if healthy else 503)


def routes() -> list[Router]:
    return [
        Router(
            path="/",
            route_handlers=[UploadController],
            dependencies={"files": Provide(files_dependency, sync_to_thread=False)},
        )
    ]

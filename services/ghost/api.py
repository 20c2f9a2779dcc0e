"""HTTP routes of Ghost Codex: extract metadata, and shred it (return a clean copy)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

import msgspec
from litestar import Controller, Request, Response, Router, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from litestar.response import File
from litestar.status_codes import HTTP_200_OK

from libs.http import ApiError, Success, ok
from libs.http.multipart import MalformedUpload, ReceivedFile, UploadTooLarge, receive_to_file
from libs.http.openapi import documented, errors, multipart_body
from libs.identity import Principal
from libs.logging import get_logger
from services.ghost.core import (
    SUPPORTED_FORMATS,
    CorruptFile,
    GhostError,
    InputTooLarge,
    UnsupportedFormat,
    cleaned_filename,
    detect_kind,
    extract_metadata,
    shred_file,
)
from services.ghost.runtime import Ghost

log = get_logger(__name__)
MIME_BY_KIND = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "tiff": "image/tiff",
    "gif": "image/gif",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "m4a": "audio/mp4",
    "wav": "audio/wav",
}


def ghost_dependency(request: Request[Any, Any, Any]) -> Ghost:
    ghost: Ghost = request.app.state["ghost"]
    return ghost


def to_api_error(exc: GhostError) -> ApiError:
    if isinstance(exc, UnsupportedFormat):
        return ApiError(
            415, exc.message, error_code="GHOST_415", details={"supported_formats": list(SUPPORTED_FORMATS)}
        )
    if isinstance(exc, InputTooLarge):
        return ApiError(413, exc.message, error_code="GHOST_413")
    if isinstance(exc, CorruptFile):
        return ApiError(422, exc.message, error_code="GHOST_422")
    return ApiError(422, exc.message, error_code="GHOST_400")


async def receive(request: Request[Any, Any, Any], ghost: Ghost) -> ReceivedFile:
    try:
        received = await receive_to_file(
            request.stream(), request.headers.get("content-type"), max_bytes=ghost.settings.max_file_size
        )
    except UploadTooLarge as exc:
        raise ApiError(413, str(exc), error_code="GHOST_413") from exc
    except MalformedUpload as exc:
        raise ApiError(400, str(exc), error_code="GHOST_001") from exc
    if received.size == 0:
        received.path.unlink(missing_ok=True)
        raise ApiError(400, "Empty files have no metadata", error_code="GHOST_002")
    return received


class GhostController(Controller):
    path = "/api/v1/trapdoor/ghost"
    tags = ["ghost"]

    @post(
        "/extract",
        status_code=HTTP_200_OK,
        request_max_body_size=None,
        responses=errors(413, 415, 422),
        operation_class=documented(body=multipart_body("The file to read, as the multipart field `file`")),
    )
    async def extract(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], ghost: NamedDependency[Ghost]
    ) -> Success[dict[str, Any]]:
        """Every metadata group found in the file (multipart field `file`)."""
        received = await receive(request, ghost)
        try:
            async with ghost.slots:
                metadata = await asyncio.to_thread(
                    extract_metadata, received.path, filename=received.filename or "file", limits=ghost.limits
                )
        except GhostError as exc:
            raise to_api_error(exc) from exc
        finally:
            received.path.unlink(missing_ok=True)
        log.info("metadata extracted", kind=metadata.get("file", {}).get("kind"), user_id=principal.user_id)
        return ok(metadata)

    @post(
        "/shred",
        status_code=HTTP_200_OK,
        request_max_body_size=None,
        responses=errors(413, 415, 422),
        operation_class=documented(
            body=multipart_body("The file to clean, as the multipart field `file`"),
            # The cleaned copy in its own type, or (`?report=true`) the JSON report.
            files={200: (*sorted(set(MIME_BY_KIND.values())), "application/json")},
        ),
    )
    async def shred(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        ghost: NamedDependency[Ghost],
        report: FromQuery[bool] = False,
    ) -> Response[Any]:
        """A copy of the file without its metadata, as `<stem>_cleaned<ext>`; `?report=true` answers with
        what was removed instead (the `X-Ghost-Removed` header always carries the count)."""
        received = await receive(request, ghost)
        workdir = Path(tempfile.mkdtemp(prefix="forge-ghost-"))
        cleaned = workdir / "cleaned"
        try:
            kind = await asyncio.to_thread(detect_kind, received.path)
            async with ghost.slots:
                result = await asyncio.to_thread(shred_file, received.path, cleaned, limits=ghost.limits)
        except GhostError as exc:
            _remove(workdir)
            raise to_api_error(exc) from exc
        except BaseException:
            _remove(workdir)
            raise
        finally:
            received.path.unlink(missing_ok=True)
        name = cleaned_filename(received.filename or "file", kind)
        log.info("file shredded", kind=str(kind), removed=len(result.removed), user_id=principal.user_id)
        if report:
            _remove(workdir)
            return Response(ok({"filename": name, **msgspec.to_builtins(result)}))
        return File(
            cleaned,
            filename=name,
            media_type=MIME_BY_KIND.get(str(kind), "application/octet-stream"),
            headers={"X-Ghost-Removed": str(len(result.removed)), "X-Content-Type-Options": "nosniff"},
            background=BackgroundTask(_remove, workdir),
        )


def _remove(directory: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(directory)


def routes() -> list[Router]:
    return [
        Router(
            path="/",
            route_handlers=[GhostController],
            dependencies={"ghost": Provide(ghost_dependency, sync_to_thread=False)},
        )
    ]

"""The upload service's behaviour: receive, deduplicate, list, serve and delete files."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from libs.contracts import upload as contract
from libs.events import enqueue_event, new_event
from libs.http import ApiError, Page
from libs.http.multipart import MultipartFileStream
from libs.identity import Principal
from libs.logging import get_logger
from libs.storage import ObjectNotFound, ObjectStore
from services.upload.content_types import content_matches, detect_mime, final_content_type, has_prefix
from services.upload.filenames import extension_of, sanitize_filename
from services.upload.schemas import (
    AdminFileItem,
    AdminFileList,
    DeletedFile,
    FileInfo,
    FileList,
    FileListItem,
    UploadedFile,
    UploadMetadata,
    UploadStats,
)
from services.upload.settings import UploadSettings
from services.upload.store import UploadStore, parse_id

log = get_logger(__name__)


def size_mb(size: int) -> float:
    return round(size / 1_000_000, 2)


def blob_key(sha256: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256}"


class FileService:
    def __init__(self, store: UploadStore, objects: ObjectStore, settings: UploadSettings, *, bucket: str) -> None:
        self.store = store
        self.objects = objects
        self.settings = settings
        self.bucket = bucket

    async def receive(self, principal: Principal, incoming: MultipartFileStream) -> UploadedFile:
        await incoming.open()
        original = sanitize_filename(incoming.filename)
        extension = extension_of(original)
        allowed = self.settings.extensions
        if extension not in allowed:
            raise ApiError(
                400,
                f"File type not allowed; allowed extensions: {', '.join(sorted(allowed))}",
                error_code="UPLOAD_002",
            )
        if not incoming.head:
            raise ApiError(400, "Empty files are not accepted", error_code="UPLOAD_003")
        mime = detect_mime(incoming.head)
        if not content_matches(extension, mime):
            raise ApiError(
                400,
                f"File content ({mime}) does not match its extension .{extension}",
                error_code="UPLOAD_004",
            )
        if has_prefix(incoming.head, mime):
            raise ApiError(400, f"File content has data before its {mime} header (a polyglot)", error_code="UPLOAD_004")
        staging = f"incoming/{uuid.uuid4().hex}"
        await self.objects.put_stream(staging, incoming.chunks())
        try:
            await incoming.finish()
            return await self._commit(principal, incoming, original, extension, mime, staging)
        finally:
            await self.objects.delete(staging)

    async def _commit(
        self,
        principal: Principal,
        incoming: MultipartFileStream,
        original: str,
        extension: str,
        mime: str,
        staging: str,
    ) -> UploadedFile:
        sha256, size = incoming.sha256, incoming.size
        key = blob_key(sha256)
        file_id = uuid.uuid4()
        content_type = final_content_type(extension, mime)
        async with self.store.db.transaction() as conn:
            is_new = await self.store.claim_blob(conn, sha256, key, size)
            if is_new:
                # Moved while the blob row is locked: a concurrent upload of the same bytes waits,
                # then finds the object in place; if the move fails, the row rolls back with it.
                await self.objects.move(staging, key)
            row = await self.store.insert_file(
                conn,
                id=file_id,
                original_filename=original,
                stored_filename=f"{file_id.hex}.{extension}",
                file_path=key,
                size=size,
                content_type=content_type,
                file_hash=sha256,
                owner_id=principal.user_id,
                storage_type="S3" if type(self.objects).__name__.startswith("S3") else "LOCAL",
                storage_metadata={"bucket": self.bucket, "object_key": key},
                is_duplicate=not is_new,
            )
            await enqueue_event(
                conn,
                contract.FILE_STORED,
                new_event(
                    "file.stored",
                    contract.FileStored(
                        file_id=str(file_id),
                        owner_id=principal.user_id,
                        sha256=sha256,
                        size=size,
                        content_type=content_type,
                        original_filename=original,
                        bucket=self.bucket,
                        object_key=key,
                        is_duplicate=not is_new,
                    ),
                    actor=principal.user_id,
                ),
            )
        log.info("file stored", file_id=str(file_id), size=size, duplicate=not is_new, content_type=content_type)
        return UploadedFile(
            file_id=str(file_id),
            original_filename=original,
            stored_filename=row["stored_filename"],
            size=size,
            size_mb=size_mb(size),
            content_type=content_type,
            file_hash=sha256,
            uploaded_at=row["created_at"],
            is_duplicate=not is_new,
            metadata=UploadMetadata(
                is_image=content_type.startswith("image/"), is_pdf=content_type == "application/pdf"
            ),
        )

    async def owned_file(self, principal: Principal, file_id: str) -> asyncpg.Record:
        """The live file, if the caller may see it: 404 when missing, 403 when someone else's."""
        fid = parse_id(file_id)
        row = await self.store.get_file(fid) if fid else None
        if row is None:
            raise ApiError(404, "File not found", error_code="UPLOAD_404")
        if row["owner_id"] != principal.user_id and not principal.is_admin:
            raise ApiError(403, "Access denied: you do not own this file", error_code="UPLOAD_403")
        return row

    async def _existing(self, hashes: Iterable[str]) -> dict[str, bool]:
        """Whether each blob is really in object storage (checked, not assumed)."""
        unique = list(dict.fromkeys(hashes))
        limit = asyncio.Semaphore(self.settings.upload_stat_concurrency)

        async def check(sha: str) -> bool:
            async with limit:
                return await self.objects.exists(blob_key(sha))

        found = await asyncio.gather(*(check(sha) for sha in unique))
        return dict(zip(unique, found, strict=True))

    async def info(self, principal: Principal, file_id: str) -> FileInfo:
        row = await self.owned_file(principal, file_id)
        exists = (await self._existing([row["file_hash"]]))[row["file_hash"]]
        return FileInfo(
            file_id=str(row["id"]),
            stored_filename=row["stored_filename"],
            original_filename=row["original_filename"],
            size=row["size"],
            size_mb=size_mb(row["size"]),
            content_type=row["content_type"],
            file_hash=row["file_hash"],
            upload_status=row["upload_status"].lower(),
            is_public=row["is_public"],
            is_image=row["content_type"].startswith("image/"),
            is_pdf=row["content_type"] == "application/pdf",
            uploaded_at=row["created_at"],
            updated_at=row["updated_at"],
            owner_id=row["owner_id"],
            filesystem_exists=exists,
            processed=row["processed"],
            processing_result=row["processing_result"],
        )

    async def list_own(self, principal: Principal, *, skip: int, limit: int) -> FileList:
        rows, total = await self.store.list_files(principal.user_id, skip=skip, limit=limit)
        exists = await self._existing(r["file_hash"] for r in rows)
        files = [
            FileListItem(
                file_id=str(r["id"]),
                stored_filename=r["stored_filename"],
                original_filename=r["original_filename"],
                size=r["size"],
                size_mb=size_mb(r["size"]),
                content_type=r["content_type"],
                upload_status=r["upload_status"].lower(),
                is_public=r["is_public"],
                is_image=r["content_type"].startswith("image/"),
                is_pdf=r["content_type"] == "application/pdf",
                uploaded_at=r["created_at"],
                filesystem_exists=exists[r["file_hash"]],
                user_owned=True,
            )
            for r in rows
        ]
        return FileList(
            files=files,
            pagination=Page.of(count=len(files), total=total, skip=skip, limit=limit),
            user_id=principal.user_id,
        )

    async def list_all(self, principal: Principal, *, skip: int, limit: int) -> AdminFileList:
        rows, total = await self.store.list_files(None, skip=skip, limit=limit)
        exists = await self._existing(r["file_hash"] for r in rows)
        files = [
            AdminFileItem(
                file_id=str(r["id"]),
                stored_filename=r["stored_filename"],
                original_filename=r["original_filename"],
                size=r["size"],
                size_mb=size_mb(r["size"]),
                content_type=r["content_type"],
                upload_status=r["upload_status"].lower(),
                is_public=r["is_public"],
                owner_id=r["owner_id"],
                uploaded_at=r["created_at"],
                filesystem_exists=exists[r["file_hash"]],
            )
            for r in rows
        ]
        return AdminFileList(
            files=files,
            pagination=Page.of(count=len(files), total=total, skip=skip, limit=limit),
            requested_by=principal.email or principal.user_id,
        )

    async def stats(self, principal: Principal) -> UploadStats:
        totals, types = await asyncio.gather(self.store.stats(), self.store.type_counts())
        return UploadStats(
            total_files=int(totals["total_files"]),
            total_size_bytes=int(totals["total_size"]),
            total_size_mb=size_mb(int(totals["total_size"])),
            active_users=int(totals["active_users"]),
            file_types=types,
            average_file_size_mb=size_mb(int(totals["average_size"])),
            generated_by=principal.email or principal.user_id,
        )

    async def open_download(
        self, principal: Principal, file_id: str, byte_range: tuple[int, int] | None
    ) -> tuple[asyncpg.Record, AsyncIterator[bytes]]:
        row = await self.owned_file(principal, file_id)
        key = blob_key(row["file_hash"])
        if not await self.objects.exists(key):
            raise ApiError(404, "File is missing from storage", error_code="UPLOAD_410")
        offset, length = (byte_range[0], byte_range[1] - byte_range[0] + 1) if byte_range else (0, None)
        stream = self.objects.get_stream(key, offset=offset, length=length)
        first = await self._first_chunk(stream)
        return row, self._prepend(first, stream)

    @staticmethod
    async def _first_chunk(stream: AsyncIterator[bytes]) -> bytes | None:
        # Pull one chunk before answering, so "missing object" becomes a 404 rather than a broken body.
        try:
            return await anext(stream)
        except StopAsyncIteration:
            return None
        except ObjectNotFound as exc:
            raise ApiError(404, "File is missing from storage", error_code="UPLOAD_410") from exc

    @staticmethod
    async def _prepend(first: bytes | None, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        if first:
            yield first
        async for chunk in rest:
            yield chunk

    async def delete(self, principal: Principal, file_id: str) -> DeletedFile:
        row = await self.owned_file(principal, file_id)
        async with self.store.db.transaction() as conn:
            deleted = await self.store.soft_delete(conn, row["id"])
            if deleted is None:
                raise ApiError(404, "File not found", error_code="UPLOAD_404")
            orphan_key = await self.store.release_blob(conn, row["file_hash"])
            if orphan_key is not None:
                # Inside the transaction: if storage refuses, the row stays live and nothing is lost.
                await self.objects.delete(orphan_key)
            await enqueue_event(
                conn,
                contract.FILE_DELETED,
                new_event(
                    "file.deleted",
                    contract.FileDeleted(
                        file_id=str(row["id"]),
                        owner_id=row["owner_id"],
                        sha256=row["file_hash"],
                        object_removed=orphan_key is not None,
                    ),
                    actor=principal.user_id,
                ),
            )
        log.info("file deleted", file_id=str(row["id"]), object_removed=orphan_key is not None)
        return DeletedFile(
            file_id=str(row["id"]),
            original_filename=row["original_filename"],
            filesystem_deleted=orphan_key is not None,
        )

    async def record_metadata(self, file_id: str, sha256: str, result: dict[str, Any], error: str | None) -> bool:
        fid = parse_id(file_id)
        if fid is None:
            return False
        stamped = {**result, "received_at": datetime.now(UTC).isoformat()}
        return await self.store.record_metadata(fid, sha256, stamped, error)

"""Ghost's consumer of `upload.file.stored`: read the object, extract metadata, publish the result.

Idempotent: the result row (one per file) and the outbox event are written in one transaction,
and a redelivery finds the row and publishes nothing new. A file that claims a supported format
but is corrupt is reported to the upload service as `failed` and dead-lettered for a person.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

import msgspec

from libs.config import PlatformSettings
from libs.contracts import ghost as contract
from libs.contracts.upload import FileStored
from libs.events import Delivery, PoisonMessage, TransientError, enqueue_event, new_event
from libs.logging import get_logger
from libs.storage import InvalidObjectKey, ObjectNotFound, ObjectStore, open_object_store
from libs.storage.files import download_file
from services.ghost.core import CorruptFile, GhostError, InputTooLarge, UnsupportedFormat, extract_metadata
from services.ghost.runtime import Ghost

log = get_logger(__name__)


def summarize(metadata: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """The extraction result, trimmed group by group until it fits one small event."""
    summary = dict(metadata)
    encoded = msgspec.json.encode(summary)
    if len(encoded) <= max_bytes:
        return summary
    groups: dict[str, Any] = dict(summary.get("metadata", {}))
    for name in sorted(groups, key=lambda g: len(msgspec.json.encode(groups[g])), reverse=True):
        groups[name] = {"truncated": True, "fields": len(groups[name]) if isinstance(groups[name], dict) else None}
        summary["metadata"] = groups
        if len(msgspec.json.encode(summary)) <= max_bytes:
            break
    return summary


class StoredFileExtractor:
    def __init__(self, ghost: Ghost, platform: PlatformSettings) -> None:
        self._ghost = ghost
        self._platform = platform
        self._stores: dict[str, ObjectStore] = {}

    def _store(self, bucket: str) -> ObjectStore:
        # The event names upload's bucket; ghost only ever reads from it.
        if bucket not in self._stores:
            self._stores[bucket] = open_object_store(self._platform, bucket=bucket)
        return self._stores[bucket]

    async def __call__(self, delivery: Delivery[FileStored]) -> None:
        stored = delivery.event.data
        done = await self._ghost.db.fetchval("SELECT 1 FROM extractions WHERE file_id = $1", stored.file_id)
        if done:
            return
        fd, name = tempfile.mkstemp(prefix="forge-ghost-")
        os.close(fd)
        path = Path(name)
        try:
            try:
                await download_file(self._store(stored.bucket), stored.object_key, path)
            except InvalidObjectKey as exc:  # no object can ever be read under it
                raise PoisonMessage(f"the event names an invalid object key: {exc}") from exc
            except ObjectNotFound:
                log.info("stored file already gone; nothing to extract", file_id=stored.file_id)
                await self._record(stored, "failed", {}, "the object was deleted before it could be read")
                return
            await delivery.in_progress()
            try:
                async with self._ghost.slots:
                    metadata = await asyncio.to_thread(
                        extract_metadata, path, filename=stored.original_filename, limits=self._ghost.limits
                    )
            except UnsupportedFormat as exc:
                await self._record(stored, "unsupported", {"detected": exc.detected}, None)
                return
            except (CorruptFile, InputTooLarge) as exc:
                await self._record(stored, "failed", {}, exc.message)
                raise PoisonMessage(exc.message) from exc
            except GhostError as exc:
                await self._record(stored, "failed", {}, exc.message)
                raise PoisonMessage(exc.message) from exc
            await self._record(stored, "extracted", summarize(metadata, self._ghost.settings.max_summary_bytes), None)
        finally:
            path.unlink(missing_ok=True)

    async def _record(
        self, stored: FileStored, status: contract.ExtractionStatus, summary: dict[str, Any], error: str | None
    ) -> None:
        try:
            async with self._ghost.db.transaction() as conn:
                inserted = await conn.fetchval(
                    "INSERT INTO extractions (file_id, sha256, status, summary, error) VALUES ($1, $2, $3, $4, $5)"
                    " ON CONFLICT (file_id) DO NOTHING RETURNING true",
                    stored.file_id,
                    stored.sha256,
                    status,
                    summary,
                    error,
                )
                if inserted:
                    await enqueue_event(
                        conn,
                        contract.METADATA_EXTRACTED,
                        new_event(
                            "metadata.extracted",
                            contract.MetadataExtracted(
                                file_id=stored.file_id,
                                sha256=stored.sha256,
                                status=status,
                                summary=summary,
                                error=error,
                            ),
                            actor=stored.owner_id,
                        ),
                    )
        except Exception as exc:
            raise TransientError(f"could not record extraction: {type(exc).__name__}") from exc

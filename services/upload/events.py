"""What the upload service consumes: ghost's extracted metadata, stored on the file it describes."""

from __future__ import annotations

import msgspec

from libs.contracts import ghost
from libs.events import Delivery
from libs.logging import get_logger
from services.upload.files import FileService

log = get_logger(__name__)


class MetadataRecorder:
    """Handler for `ghost.metadata.extracted`; the update is idempotent (same values each time)."""

    def __init__(self, files: FileService) -> None:
        self._files = files

    async def __call__(self, delivery: Delivery[ghost.MetadataExtracted]) -> None:
        event = delivery.event.data
        result: dict[str, object] = {"status": event.status, "metadata": event.summary}
        if event.error:
            result["error"] = event.error
        matched = await self._files.record_metadata(
            event.file_id, event.sha256, msgspec.to_builtins(result), event.error if event.status == "failed" else None
        )
        if not matched:
            log.info("metadata for an unknown or deleted file ignored", file_id=event.file_id)

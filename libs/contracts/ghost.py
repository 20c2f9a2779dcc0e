"""Contracts of the ghost service: metadata extracted from stored files."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from libs.events.streams import StreamSpec

METADATA_EXTRACTED = "ghost.metadata.extracted"
STREAM = StreamSpec("GHOST", ("ghost.metadata.>",), description="ghost service events")
ExtractionStatus = Literal["extracted", "unsupported", "failed"]


class MetadataExtracted(msgspec.Struct, frozen=True, kw_only=True):
    """What ghost found in an uploaded file; `summary` is JSON-safe and small (no raw binary)."""

    file_id: str
    sha256: str
    status: ExtractionStatus
    summary: dict[str, Any] = {}
    error: str | None = None

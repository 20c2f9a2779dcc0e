"""Contracts of the upload service: its stream and file events.

`upload.file.stored` names the bucket and object key of the content so that consumers (ghost)
can read the bytes; upload's objects are immutable and content-addressed, so the key stays
valid until `upload.file.deleted` says the object was removed.
"""

from __future__ import annotations

import msgspec

from libs.events.streams import StreamSpec

FILE_STORED = "upload.file.stored"
FILE_DELETED = "upload.file.deleted"
STREAM = StreamSpec("UPLOAD", ("upload.file.>",), description="upload service events")


class FileStored(msgspec.Struct, frozen=True, kw_only=True):
    file_id: str
    owner_id: str
    sha256: str
    size: int
    content_type: str
    original_filename: str
    bucket: str
    object_key: str
    is_duplicate: bool


class FileDeleted(msgspec.Struct, frozen=True, kw_only=True):
    file_id: str
    owner_id: str
    sha256: str
    object_removed: bool

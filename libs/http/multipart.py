"""Streaming multipart reception: the body is parsed as it arrives and the `file` part flows on
(to object storage or a temporary file) chunk by chunk, hashed and counted on the way, never
held whole in memory. Size limits are enforced while streaming, chunked bodies included."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from multipart import MultipartError, MultipartSegment, ParserLimitReached, PushMultipartParser, parse_options_header

from libs.storage.files import write_chunks

HEAD_BYTES = 8192
_MAX_OTHER_FIELD = 64 * 1024


class MalformedUpload(Exception):
    """The body is not a multipart form with a `file` part."""


class UploadTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"File exceeds the maximum size of {limit} bytes")
        self.limit = limit


def multipart_boundary(content_type: str | None) -> str:
    kind, options = parse_options_header(content_type or "")
    if kind != "multipart/form-data" or not options.get("boundary"):
        raise MalformedUpload("Content-Type must be multipart/form-data with a boundary")
    return str(options["boundary"])


class MultipartFileStream:
    """Read a multipart body up to the `file` part, then stream that part's bytes."""

    def __init__(self, body: AsyncIterator[bytes], boundary: str, *, field: str = "file", max_bytes: int) -> None:
        self._body = body
        self._parser = PushMultipartParser(boundary, max_header_size=8192, max_segment_count=16)
        self._field = field
        self._max = max_bytes
        self._events = self._parse()
        self.filename: str | None = None
        self.declared_type: str | None = None
        self.head = b""
        self.size = 0
        self._sha = hashlib.sha256()
        self._field_values: dict[str, bytearray] = {}
        self._part_done = False

    async def _parse(self) -> AsyncIterator[MultipartSegment | bytes | None]:
        try:
            async for chunk in self._body:
                if chunk:
                    for event in self._parser.parse(chunk):
                        yield event
            for event in self._parser.parse(b""):
                yield event
        except ParserLimitReached as exc:
            raise MalformedUpload(f"Multipart limits exceeded: {exc}") from exc
        except MultipartError as exc:
            raise MalformedUpload(f"Malformed multipart body: {exc}") from exc

    def _count(self, data: bytes) -> bytes:
        self.size += len(data)
        if self.size > self._max:
            raise UploadTooLarge(self._max)
        self._sha.update(data)
        return data

    def _collect_field(self, name: str | None, event: bytes) -> None:
        if name is None:
            return
        value = self._field_values.setdefault(name, bytearray())
        value += event
        if len(value) > _MAX_OTHER_FIELD:
            raise MalformedUpload(f"Form field {name!r} too large")

    @property
    def fields(self) -> dict[str, str]:
        """The form's small text fields (other than the file), as far as they have been read."""
        return {name: bytes(value).decode("utf-8", "replace") for name, value in self._field_values.items()}

    async def open(self) -> None:
        """Advance to the file part (keeping text fields met on the way) and read its first bytes."""
        current: str | None = None
        async for event in self._events:
            if isinstance(event, MultipartSegment):
                if event.name == self._field and event.filename is not None:
                    self.filename = event.filename
                    self.declared_type = event.content_type
                    break
                current = event.name if event.filename is None else None
            elif isinstance(event, bytes):
                self._collect_field(current, event)
        else:
            raise MalformedUpload(f"No '{self._field}' file part in the form")
        head = bytearray()
        async for event in self._events:
            if event is None:
                self._part_done = True
                break
            if isinstance(event, bytes):
                head += self._count(event)
                if len(head) >= HEAD_BYTES:
                    break
        self.head = bytes(head)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The whole file part: the head already read, then the rest as it arrives."""
        if self.head:
            yield self.head
        if not self._part_done:
            async for event in self._events:
                if event is None:
                    self._part_done = True
                    break
                if isinstance(event, bytes):
                    yield self._count(event)
        if not self._part_done:
            raise MalformedUpload("The upload ended before the file part was complete")

    async def finish(self) -> None:
        """Read what follows the file part (other fields), so a truncated body is detected."""
        current: str | None = None
        async for event in self._events:
            if isinstance(event, MultipartSegment):
                current = event.name if event.filename is None else None
            elif isinstance(event, bytes):
                self._collect_field(current, event)

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()


@dataclass(frozen=True, slots=True)
class ReceivedFile:
    """A file part written to a temporary file; the caller deletes `path` when done."""

    path: Path
    filename: str | None
    size: int
    sha256: str
    head: bytes
    fields: dict[str, str]


async def receive_to_file(
    body: AsyncIterator[bytes], content_type: str | None, *, max_bytes: int, directory: str | None = None
) -> ReceivedFile:
    """Stream the `file` part of a multipart body into a temporary file (removed on any error)."""
    incoming = MultipartFileStream(body, multipart_boundary(content_type), max_bytes=max_bytes)
    await incoming.open()
    fd, name = await asyncio.to_thread(tempfile.mkstemp, prefix="forge-upload-", dir=directory)
    path = Path(name)
    handle: IO[bytes] = os.fdopen(fd, "wb")
    try:
        await write_chunks(handle, incoming.chunks())
        handle.close()
        await incoming.finish()
    except BaseException:
        handle.close()
        path.unlink(missing_ok=True)
        raise
    return ReceivedFile(
        path=path,
        filename=incoming.filename,
        size=incoming.size,
        sha256=incoming.sha256,
        head=incoming.head,
        fields=incoming.fields,
    )

"""Move objects between the store and local files, streaming, off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from libs.storage.base import ObjectInfo, ObjectStore

CHUNK = 1 << 20


async def read_file_chunks(path: Path, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := await asyncio.to_thread(handle.read, chunk_size):
            yield chunk


async def upload_file(store: ObjectStore, key: str, path: Path, *, content_type: str | None = None) -> ObjectInfo:
    size = await asyncio.to_thread(lambda: path.stat().st_size)
    return await store.put_stream(key, read_file_chunks(path), length=size, content_type=content_type)


async def download_file(store: ObjectStore, key: str, path: Path) -> None:
    """Write the object to `path`; raises `ObjectNotFound` (and leaves no partial file) if it is missing."""
    try:
        with path.open("wb") as handle:
            async for chunk in store.get_stream(key, chunk_size=CHUNK):
                await asyncio.to_thread(handle.write, chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise

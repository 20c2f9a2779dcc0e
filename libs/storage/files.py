"""Move objects between the store and local files, streaming, off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import IO

from libs.storage.base import ObjectInfo, ObjectStore

CHUNK = 1 << 20


async def write_chunks(handle: IO[bytes], chunks: AsyncIterable[bytes], batch: int = CHUNK) -> None:
    """Write `chunks` to `handle` off the event loop, batched so the thread hop is paid per ~1 MiB,
    not per network read."""
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) >= batch:
            await asyncio.to_thread(handle.write, bytes(buffer))
            buffer.clear()
    if buffer:
        await asyncio.to_thread(handle.write, bytes(buffer))


async def read_file_chunks(path: Path, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
    handle: IO[bytes] = await asyncio.to_thread(path.open, "rb")
    with handle:
        while chunk := await asyncio.to_thread(handle.read, chunk_size):
            yield chunk


async def upload_file(store: ObjectStore, key: str, path: Path, *, content_type: str | None = None) -> ObjectInfo:
    size = await asyncio.to_thread(lambda: path.stat().st_size)
    return await store.put_stream(key, read_file_chunks(path), length=size, content_type=content_type)


async def download_file(store: ObjectStore, key: str, path: Path) -> None:
    """Write the object to `path`; raises `ObjectNotFound` (and leaves no partial file) if it is missing."""
    try:
        handle: IO[bytes] = await asyncio.to_thread(path.open, "wb")
        with handle:
            await write_chunks(handle, store.get_stream(key, chunk_size=CHUNK))
    except BaseException:
        path.unlink(missing_ok=True)
        raise

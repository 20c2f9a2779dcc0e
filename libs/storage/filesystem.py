"""Object storage in a local folder, for development and single-node use.

Writes go to a temporary file in the same folder tree and are renamed into place, so a reader
never sees half an object and a crash leaves only a temporary file behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from libs.storage.base import DEFAULT_CHUNK, ObjectInfo, ObjectNotFound, StorageUnavailable, validate_key
from libs.storage.files import write_chunks


class FilesystemObjectStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self._tmp = self.root / ".tmp"

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if self.root not in path.parents:
            raise ValueError(f"key {key!r} escapes the storage root")
        return path

    async def ensure_ready(self) -> None:
        await asyncio.to_thread(self._tmp.mkdir, parents=True, exist_ok=True)

    async def check(self) -> None:
        def probe() -> None:
            if not self.root.is_dir() or not os.access(self.root, os.W_OK):
                raise StorageUnavailable(f"storage folder {self.root} is missing or not writable")

        await asyncio.to_thread(probe)

    @staticmethod
    def _info(key: str, path: Path) -> ObjectInfo:
        st = path.stat()
        etag = hashlib.md5(f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}".encode(), usedforsecurity=False).hexdigest()
        return ObjectInfo(key=key, size=st.st_size, etag=etag, last_modified=datetime.fromtimestamp(st.st_mtime, UTC))

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        length: int | None = None,
        content_type: str | None = None,
    ) -> ObjectInfo:
        final = self._path(key)
        await self.ensure_ready()
        tmp = self._tmp / uuid.uuid4().hex
        handle: IO[bytes] = await asyncio.to_thread(open, tmp, "wb")
        try:
            await write_chunks(handle, chunks)

            def commit() -> ObjectInfo:
                handle.flush()
                os.fsync(handle.fileno())
                handle.close()
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
                return self._info(key, final)

            return await asyncio.to_thread(commit)
        except BaseException:
            handle.close()
            tmp.unlink(missing_ok=True)
            raise

    async def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> ObjectInfo:
        async def one() -> AsyncIterator[bytes]:
            yield data

        return await self.put_stream(key, one(), length=len(data), content_type=content_type)

    async def get_stream(
        self, key: str, *, offset: int = 0, length: int | None = None, chunk_size: int = DEFAULT_CHUNK
    ) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle: IO[bytes] = await asyncio.to_thread(open, path, "rb")
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        try:
            if offset:
                handle.seek(offset)
            remaining = length
            while remaining is None or remaining > 0:
                size = chunk_size if remaining is None else min(chunk_size, remaining)
                chunk = await asyncio.to_thread(handle.read, size)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            handle.close()

    async def get_bytes(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

    async def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(self._info, key, path)
        except FileNotFoundError:
            return None

    async def exists(self, key: str) -> bool:
        return await self.stat(key) is not None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def move(self, src: str, dst: str) -> ObjectInfo:
        src_path, dst_path = self._path(src), self._path(dst)

        def rename() -> ObjectInfo:
            dst_path.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(src_path, dst_path)
            except FileNotFoundError:
                raise ObjectNotFound(src) from None
            return self._info(dst, dst_path)

        return await asyncio.to_thread(rename)

    async def list(self, prefix: str = "") -> list[ObjectInfo]:
        def walk() -> list[ObjectInfo]:
            found = []
            for dirpath, dirnames, filenames in os.walk(self.root):
                dirnames[:] = [d for d in dirnames if d != ".tmp"]
                for name in filenames:
                    path = Path(dirpath) / name
                    key = path.relative_to(self.root).as_posix()
                    if key.startswith(prefix):
                        found.append(self._info(key, path))
            return sorted(found, key=lambda info: info.key)

        return await asyncio.to_thread(walk)

    async def close(self) -> None:
        return None

    async def wipe(self) -> None:
        """Remove everything (tests and `forge dev --reset` only)."""
        await asyncio.to_thread(shutil.rmtree, self.root, True)

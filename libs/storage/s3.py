"""Object storage on S3 or MinIO through the `minio` client.

The client is synchronous, so every call runs in a worker thread. Uploads stream: a small
file-like adapter pulls chunks from the async iterator on the event loop as the client reads,
and the client sends them as a multipart upload, so an object is never held whole in memory.
"""

from __future__ import annotations

import asyncio
import functools
import io
from collections.abc import AsyncIterable, AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar, cast
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.commonconfig import CopySource
from minio.error import MinioException, S3Error
from urllib3.connectionpool import ConnectionPool
from urllib3.response import BaseHTTPResponse

from libs.storage.base import DEFAULT_CHUNK, ObjectInfo, ObjectNotFound, StorageUnavailable, validate_key

T = TypeVar("T")
# Parts are sent one at a time: memory stays at about one part per upload (minio's parallel
# part threads would hold several, and leak work when the source fails mid-stream).
PART_SIZE = 8 * 1024 * 1024
# Object storage calls run in a pool of their own: each blocking call (and each upload, for its
# whole length) holds a thread. Apart from asyncio's default pool, a slow or frozen store can only
# delay storage calls, never the rest of the process (password hashing, file writes, jobs).
MAX_THREADS = 32
# A missing bucket means its objects are missing too (the event or row that names them is stale).
_MISSING = {"NoSuchKey", "ResourceNotFound", "NoSuchObject", "NoSuchBucket"}
_executor: ThreadPoolExecutor | None = None


def _storage_executor() -> ThreadPoolExecutor:
    """One pool per process, shared by every bucket's store (created on first use, on the loop)."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="object-storage")
    return _executor


class _Retry(urllib3.Retry):
    """urllib3's retries, except after a read timeout: a store that took the request and then said
    nothing for the whole timeout will not answer a second try sooner (3 tries = 3 timeouts).
    Connection errors (refused, reset, a dropped keep-alive) are still retried: they are quick."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if isinstance(error, urllib3.exceptions.ReadTimeoutError):
            raise urllib3.exceptions.MaxRetryError(cast(ConnectionPool, _pool), url or "", error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)


class _AsyncChunkReader(io.RawIOBase):
    """A blocking `read()` for the minio thread, fed by an async iterator on the loop.

    Each `read()` costs one hop to the loop, which fills a bytearray up to the requested size
    (appending in place: no quadratic re-copying of an 8 MiB part chunk by chunk).
    """

    def __init__(self, chunks: AsyncIterable[bytes], loop: asyncio.AbstractEventLoop) -> None:
        self._iter = aiter(chunks)
        self._loop = loop
        self._buffer = bytearray()
        self._done = False

    def readable(self) -> bool:
        return True

    async def _fill(self, size: int) -> None:
        while not self._done and (size < 0 or len(self._buffer) < size):
            try:
                self._buffer += await anext(self._iter)
            except StopAsyncIteration:
                self._done = True

    def read(self, size: int = -1) -> bytes:
        if not self._done and (size < 0 or len(self._buffer) < size):
            asyncio.run_coroutine_threadsafe(self._fill(size), self._loop).result()
        if size < 0 or size >= len(self._buffer):
            out = bytes(self._buffer)
            self._buffer.clear()
            return out
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out


class S3ObjectStore:
    def __init__(
        self,
        endpoint: str,
        *,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = True,
        region: str = "us-east-1",
        timeout: float = 10.0,
    ) -> None:
        parsed = urlsplit(endpoint if "://" in endpoint else f"{'https' if secure else 'http'}://{endpoint}")
        self.bucket = bucket
        # Few retries and short timeouts: an unreachable store must answer 503 fast, not hang a request.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(timeout, 3.0), read=timeout),
            retries=_Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
            maxsize=MAX_THREADS,
        )
        self._client = Minio(
            parsed.netloc,
            access_key=access_key,
            secret_key=secret_key,
            secure=parsed.scheme == "https",
            region=region,
            http_client=http,
        )

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            call = functools.partial(fn, *args, **kwargs)
            return await asyncio.get_running_loop().run_in_executor(_storage_executor(), call)
        except S3Error:
            raise
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(f"object storage unavailable: {type(exc).__name__}") from exc

    async def ensure_ready(self) -> None:
        if not await self._call(self._client.bucket_exists, self.bucket):
            try:
                await self._call(self._client.make_bucket, self.bucket)
            except S3Error as exc:
                if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise

    async def check(self) -> None:
        try:
            exists = await self._call(self._client.bucket_exists, self.bucket)
        except S3Error as exc:
            raise StorageUnavailable(f"object storage error: {exc.code}") from exc
        if not exists:
            raise StorageUnavailable(f"bucket {self.bucket} does not exist")

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        length: int | None = None,
        content_type: str | None = None,
    ) -> ObjectInfo:
        validate_key(key)
        reader = _AsyncChunkReader(chunks, asyncio.get_running_loop())
        result = await self._call(
            self._client.put_object,
            self.bucket,
            key,
            reader,
            length if length is not None else -1,
            content_type=content_type or "application/octet-stream",
            part_size=PART_SIZE if length is None or length > PART_SIZE else 0,
            num_parallel_uploads=1,
        )
        info = await self.stat(key)
        if info is None:
            raise StorageUnavailable(f"object {key} vanished right after upload ({result.etag})")
        return info

    async def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> ObjectInfo:
        validate_key(key)
        await self._call(
            self._client.put_object,
            self.bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type or "application/octet-stream",
        )
        info = await self.stat(key)
        assert info is not None
        return info

    async def get_stream(
        self, key: str, *, offset: int = 0, length: int | None = None, chunk_size: int = DEFAULT_CHUNK
    ) -> AsyncIterator[bytes]:
        validate_key(key)
        try:
            response = await self._call(self._client.get_object, self.bucket, key, offset=offset, length=length or 0)
        except S3Error as exc:
            if exc.code in _MISSING:
                raise ObjectNotFound(key) from None
            raise
        try:
            stream = response.stream(chunk_size)
            while True:
                chunk = await self._call(next, stream, None)
                if chunk is None:
                    break
                yield chunk
        finally:
            response.close()
            response.release_conn()

    async def get_bytes(self, key: str) -> bytes:
        parts = [chunk async for chunk in self.get_stream(key, chunk_size=1 << 20)]
        return b"".join(parts)

    async def stat(self, key: str) -> ObjectInfo | None:
        validate_key(key)
        try:
            st = await self._call(self._client.stat_object, self.bucket, key)
        except S3Error as exc:
            if exc.code in _MISSING:
                return None
            raise
        return ObjectInfo(
            key=key,
            size=int(st.size or 0),
            etag=(st.etag or "").strip('"'),
            last_modified=st.last_modified or datetime.now(UTC),
        )

    async def exists(self, key: str) -> bool:
        return await self.stat(key) is not None

    async def delete(self, key: str) -> None:
        validate_key(key)
        await self._call(self._client.remove_object, self.bucket, key)

    async def move(self, src: str, dst: str) -> ObjectInfo:
        validate_key(src)
        validate_key(dst)
        try:
            await self._call(self._client.copy_object, self.bucket, dst, CopySource(self.bucket, src))
        except S3Error as exc:
            if exc.code in _MISSING:
                raise ObjectNotFound(src) from None
            raise
        await self.delete(src)
        info = await self.stat(dst)
        assert info is not None
        return info

    async def list(self, prefix: str = "") -> list[ObjectInfo]:
        def collect() -> list[ObjectInfo]:
            return [
                ObjectInfo(
                    key=obj.object_name or "",
                    size=int(obj.size or 0),
                    etag=(obj.etag or "").strip('"'),
                    last_modified=obj.last_modified or datetime.now(UTC),
                )
                for obj in self._client.list_objects(self.bucket, prefix=prefix or None, recursive=True)
            ]

        return await self._call(collect)

    async def close(self) -> None:
        return None

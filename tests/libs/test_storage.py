"""One contract, two backends: the filesystem store and the S3 store against moto's S3 server."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from libs.storage import (
    FilesystemObjectStore,
    InvalidObjectKey,
    ObjectNotFound,
    ObjectStore,
    S3ObjectStore,
    StorageUnavailable,
)
from tests.infra import TestInfra


@pytest_asyncio.fixture(loop_scope="session", params=["fs", "s3"])
async def store(request: pytest.FixtureRequest, infra: TestInfra, tmp_path: Path) -> AsyncIterator[ObjectStore]:
    backend: ObjectStore
    if request.param == "fs":
        backend = FilesystemObjectStore(tmp_path / "objects")
    else:
        backend = S3ObjectStore(
            infra.s3_endpoint,
            access_key="testing",
            secret_key="testing",
            bucket=f"contract-{uuid.uuid4().hex[:8]}",
            secure=False,
        )
    await backend.ensure_ready()
    yield backend
    await backend.close()


async def chunks(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]
        await asyncio.sleep(0)


async def read_all(store: ObjectStore, key: str, **kwargs: int) -> bytes:
    return b"".join([c async for c in store.get_stream(key, **kwargs)])


async def test_put_get_stat_delete(store: ObjectStore) -> None:
    data = os.urandom(300_000)
    info = await store.put_stream("a/b/object.bin", chunks(data))
    assert info.size == len(data)
    assert info.etag
    assert await read_all(store, "a/b/object.bin") == data
    assert await store.get_bytes("a/b/object.bin") == data
    stat = await store.stat("a/b/object.bin")
    assert stat is not None
    assert stat.size == len(data)
    assert await store.exists("a/b/object.bin")
    await store.delete("a/b/object.bin")
    assert not await store.exists("a/b/object.bin")
    assert await store.stat("a/b/object.bin") is None
    await store.delete("a/b/object.bin")  # deleting a missing object is not an error


async def test_range_reads(store: ObjectStore) -> None:
    data = bytes(range(256)) * 1000
    await store.put_bytes("range.bin", data)
    assert await read_all(store, "range.bin", offset=1000, length=500) == data[1000:1500]
    assert await read_all(store, "range.bin", offset=len(data) - 10) == data[-10:]
    assert await read_all(store, "range.bin", offset=5, length=3, chunk_size=1) == data[5:8]


async def test_missing_object(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        await read_all(store, "nope/missing")
    with pytest.raises(ObjectNotFound):
        await store.get_bytes("nope/missing")
    with pytest.raises(ObjectNotFound):
        await store.move("nope/missing", "nope/other")


@pytest.mark.parametrize("key", ["../escape", "/abs", "a/../../b", "", "a//b", "dir/", "con\x00trol", "sp ace"])
async def test_hostile_keys_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidObjectKey):
        await store.put_bytes(key, b"x")


async def test_move_and_list(store: ObjectStore) -> None:
    await store.put_bytes("tmp/one", b"1")
    await store.put_bytes("tmp/two", b"22")
    moved = await store.move("tmp/one", "final/one")
    assert moved.size == 1
    assert not await store.exists("tmp/one")
    assert await store.get_bytes("final/one") == b"1"
    keys = [info.key for info in await store.list("tmp/")]
    assert keys == ["tmp/two"]
    assert {info.key for info in await store.list()} >= {"final/one", "tmp/two"}


async def test_overwrite_is_atomic_and_failed_upload_leaves_old_object(store: ObjectStore) -> None:
    await store.put_bytes("doc", b"version-1")

    async def broken() -> AsyncIterator[bytes]:
        yield b"partial"
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        await store.put_stream("doc", broken())
    assert await store.get_bytes("doc") == b"version-1"


async def test_large_streamed_object_multipart(store: ObjectStore) -> None:
    # 40 MiB crosses the 8 MiB part size, so S3 takes the multipart path.
    block = os.urandom(1 << 20)
    digest = hashlib.sha256()

    async def produce() -> AsyncIterator[bytes]:
        for _ in range(40):
            digest.update(block)
            yield block

    info = await store.put_stream("big/object", produce())
    assert info.size == 40 << 20
    check = hashlib.sha256()
    async for chunk in store.get_stream("big/object", chunk_size=1 << 20):
        check.update(chunk)
    assert check.hexdigest() == digest.hexdigest()
    await store.delete("big/object")


async def test_check_reports_health(store: ObjectStore) -> None:
    await store.check()


async def test_unreachable_s3_is_unavailable_not_a_crash() -> None:
    dead = S3ObjectStore("127.0.0.1:9", access_key="x", secret_key="y", bucket="nothing", secure=False, timeout=1)
    with pytest.raises(StorageUnavailable):
        await dead.check()
    with pytest.raises(StorageUnavailable):
        await dead.put_bytes("k", b"v")

"""Upload service: streaming throughput, memory and event-loop health under a large upload.

Run as ``python -m bench.upload.bench_upload [--size-mb 200] [--storage s3|fs]``. One run starts
NATS, a fresh PostgreSQL database, the object store (moto's S3 server in its own process, or a
temporary folder) and ``forge serve --services auth,upload`` as a subprocess, then measures:

(a) MiB/s of ``POST /upload/`` (multipart, a generated ``.txt`` streamed by the client, never
    held in memory) ÷ MiB/s of a direct ``put_stream`` of the same bytes to the same bucket, from
    this process, in the same run (the two alternate, ``--rounds`` times each; medians);
(b) the server's peak RSS growth while the upload runs (sampled every 20 ms; target < 64 MiB,
    which proves the body is streamed rather than buffered);
(c) p99 of ``GET /upload/{id}/info`` over 50 connections while an upload runs ÷ the same number
    of requests when idle (target < 3: the event loop is not blocked). A one-connection probe of
    ``/health/live`` (no database, no storage) runs alongside, as a pure event-loop lag figure.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from bench.common import (
    MIB,
    LoadResult,
    Platform,
    RssSampler,
    Storage,
    cpu_seconds,
    load,
    mark,
    num,
    percentile,
    platform,
    record,
    register_and_login,
    rss_bytes,
    run,
    table,
)

BENCH = "upload"
CHUNK = 256 * 1024
RSS_TARGET_MIB = 64.0
INFO_RATIO_TARGET = 3.0
INFO_CONCURRENCY = 50


def _block() -> bytes:
    """1 MiB of printable ASCII lines (libmagic calls it text/plain)."""
    line_no = 0
    out = bytearray()
    while len(out) < MIB:
        out += f"{line_no:08d} the quick brown fox jumps over the lazy dog 0123456789 forge\n".encode()
        line_no += 1
    return bytes(out[:MIB])


BLOCK = _block()
BLOCK_CHUNKS = [BLOCK[i : i + CHUNK] for i in range(0, MIB, CHUNK)]


class Progress:
    """Bytes of the file sent so far; `reached` is set once `threshold` bytes are out."""

    def __init__(self, threshold: int = 0) -> None:
        self.sent = 0
        self.threshold = threshold
        self.reached = asyncio.Event()

    def add(self, count: int) -> None:
        self.sent += count
        if self.sent >= self.threshold:
            self.reached.set()


async def file_chunks(size: int, tag: str, progress: Progress | None = None) -> AsyncIterator[bytes]:
    """`size` bytes of text: a unique first line (no dedup between runs), then repeated lines."""
    head = f"forge upload benchmark {tag}\n".encode()
    remaining = size - len(head)
    yield head
    if progress:
        progress.add(len(head))
    skip = len(head)  # keep the total exactly `size` while reusing the precomputed chunks
    while remaining > 0:
        for chunk in BLOCK_CHUNKS:
            if skip:
                chunk, skip = chunk[skip:], 0
            piece = chunk if len(chunk) <= remaining else chunk[:remaining]
            remaining -= len(piece)
            yield piece
            if progress:
                progress.add(len(piece))
            if remaining <= 0:
                break


@dataclass
class MultipartBody:
    size: int
    tag: str
    filename: str = "bench.txt"

    def __post_init__(self) -> None:
        self.boundary = f"forgebench{uuid.uuid4().hex}"
        self.head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{self.filename}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.progress = Progress(self.size // 20)

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": f"multipart/form-data; boundary={self.boundary}",
            "Content-Length": str(len(self.head) + self.size + len(self.tail)),
        }

    async def stream(self) -> AsyncIterator[bytes]:
        yield self.head
        async for chunk in file_chunks(self.size, self.tag, self.progress):
            yield chunk
        yield self.tail


@dataclass
class UploadRun:
    seconds: float
    file_id: str
    rss_baseline: int = 0
    rss_peak: int = 0
    server_cpu: float = 0.0

    def mib_s(self, size: int) -> float:
        return size / MIB / self.seconds


async def upload(
    client: httpx.AsyncClient, headers: dict[str, str], size: int, *, body: MultipartBody | None = None
) -> tuple[float, str]:
    body = body or MultipartBody(size, uuid.uuid4().hex)
    started = time.perf_counter()
    response = await client.post("/upload/", content=body.stream(), headers={**headers, **body.headers})
    elapsed = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"upload failed: {response.status_code} {response.text[:300]}")
    data = response.json()["data"]
    if data["size"] != size:
        raise RuntimeError(f"server stored {data['size']} bytes, sent {size}")
    return elapsed, str(data["file_id"])


async def direct_put(store: Any, size: int) -> tuple[float, float]:
    """Seconds of a `put_stream` of `size` bytes, then of a `move` of that object (what the
    server's commit does with its staging object); the object is removed afterwards."""
    key = f"bench/direct-{uuid.uuid4().hex}"
    started = time.perf_counter()
    await store.put_stream(key, file_chunks(size, uuid.uuid4().hex))
    put = time.perf_counter() - started
    started = time.perf_counter()
    await store.move(key, f"{key}-moved")
    moved = time.perf_counter() - started
    await store.delete(f"{key}-moved")
    return put, moved


async def delete_file(client: httpx.AsyncClient, headers: dict[str, str], file_id: str) -> None:
    response = await client.delete(f"/upload/{file_id}", headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"delete failed: {response.status_code} {response.text[:200]}")


async def live_probe(base_url: str, stop: asyncio.Event, interval: float = 0.02) -> list[float]:
    """One connection, one `/health/live` every `interval` s until `stop`: event-loop lag."""
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await client.get("/health/live")
        deadline = time.perf_counter() + 300
        while not stop.is_set() and time.perf_counter() < deadline:
            began = time.perf_counter()
            response = await client.get("/health/live")
            if response.status_code == 200:
                latencies.append(time.perf_counter() - began)
            with_wait = interval - (time.perf_counter() - began)
            if with_wait > 0:
                await asyncio.sleep(with_wait)
    return latencies


@dataclass
class InfoPhase:
    info: LoadResult
    live: list[float]
    p99_ms: float
    counted: int


async def info_phase(p: Platform, headers: dict[str, str], path: str, requests: int) -> InfoPhase:
    stop = asyncio.Event()
    probe = asyncio.create_task(live_probe(p.base_url, stop))
    try:
        result = await load(
            p.base_url, path, headers=headers, concurrency=INFO_CONCURRENCY, requests=requests, max_seconds=90
        )
    finally:
        stop.set()
    live = await probe
    return InfoPhase(info=result, live=live, p99_ms=result.p99_ms, counted=result.requests)


async def bench(args: argparse.Namespace) -> int:
    size = args.size_mb * MIB
    storage: Storage = args.storage
    extra = {"MAX_UPLOAD_SIZE": str(size + 16 * MIB)}
    started = time.perf_counter()
    async with platform(["auth", "upload"], storage=storage, extra_env=extra) as p:
        startup = time.perf_counter() - started
        store = p.object_store("upload")
        async with httpx.AsyncClient(base_url=p.base_url, timeout=httpx.Timeout(180.0)) as client:
            account = await register_and_login(client)
            auth = account.headers
            # Warm-up (untimed): first upload pays lazy imports, the storage connection pool and
            # the first multipart-upload round trip; its file is the one /info asks about in (c).
            _, info_id = await upload(client, auth, 1 * MIB)
            await direct_put(store, 1 * MIB)
            info_path = f"/upload/{info_id}/info"

            # (a) + (b): alternate direct put and HTTP upload; sample server RSS during uploads.
            directs: list[float] = []
            moves: list[float] = []
            uploads: list[UploadRun] = []
            for _ in range(args.rounds):
                put, moved = await direct_put(store, size)
                directs.append(put)
                moves.append(moved)
                sampler = RssSampler(p.pid)
                cpu_before = cpu_seconds(p.pid)
                with sampler:
                    seconds, file_id = await upload(client, auth, size)
                uploads.append(
                    UploadRun(seconds, file_id, sampler.baseline, sampler.peak, cpu_seconds(p.pid) - cpu_before)
                )
                await delete_file(client, auth, file_id)

            # (c) idle, then during an upload, with the same number of /info requests.
            calibrate = await load(
                p.base_url, info_path, headers=auth, concurrency=INFO_CONCURRENCY, duration=1.5, max_seconds=10
            )
            upload_seconds = statistics.median(u.seconds for u in uploads)
            # Enough requests to take ~1/2 of an idle-speed upload, so they fit inside the (slower) loaded one.
            requests = int(max(300, min(args.max_info_requests, calibrate.rps * upload_seconds / 2)))
            idle = await info_phase(p, auth, info_path, requests)

            body = MultipartBody(size, uuid.uuid4().hex)
            ended: list[float] = []
            loaded_sampler = RssSampler(p.pid).start()
            upload_task = asyncio.create_task(upload(client, auth, size, body=body))
            upload_task.add_done_callback(lambda _: ended.append(time.perf_counter()))
            try:
                # Start the /info load once 5% of the file is out (the upload is streaming by then).
                reached = asyncio.create_task(body.progress.reached.wait())
                await asyncio.wait({reached, upload_task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
                reached.cancel()
                window_start = time.perf_counter()
                busy = await info_phase(p, auth, info_path, requests)
                loaded_seconds, loaded_id = await upload_task
            finally:
                loaded_sampler.stop()
                if not upload_task.done():
                    upload_task.cancel()
            # The window is from 5% sent to the upload's response (its commit included).
            window_end = ended[0] if ended else time.perf_counter()
            inside = busy.info.within(window_start, window_end)
            busy_p99 = percentile(inside, 99) * 1000 if inside else math.nan
            await delete_file(client, auth, loaded_id)
            await delete_file(client, auth, info_id)
        moto_rss = rss_bytes(p.moto_pid) if p.moto_pid else None
        await store.close()

    direct_s = statistics.median(directs)
    upload_s = statistics.median(u.seconds for u in uploads)
    direct_rate = size / MIB / direct_s
    move_s = statistics.median(moves)
    put_move_rate = size / MIB / (direct_s + move_s)
    upload_rate = size / MIB / upload_s
    throughput_ratio = upload_rate / direct_rate
    growth = max(u.rss_peak - u.rss_baseline for u in uploads) / MIB
    loaded_growth = (loaded_sampler.peak - loaded_sampler.baseline) / MIB
    idle_p99 = idle.p99_ms
    info_ratio = busy_p99 / idle_p99 if idle_p99 else math.nan
    live_idle = percentile(idle.live, 99) * 1000
    live_busy = percentile(busy.live, 99) * 1000
    rss_ok = growth < RSS_TARGET_MIB
    info_ok = info_ratio < INFO_RATIO_TARGET
    cpu_per_mib = statistics.median(u.server_cpu for u in uploads) / (size / MIB) * 1000

    print(
        f"\nUpload benchmark: {args.size_mb} MiB .txt, storage={storage}"
        + (" (moto S3 server, separate process)" if storage == "s3" else " (temp folder)")
        + f", {args.rounds} round(s) each side, platform ready in {startup:.1f} s"
    )
    rows: list[list[object]] = [
        ["(a) direct put_stream", f"{direct_rate:.1f} MiB/s", f"{direct_s:.2f} s", "", "baseline"],
        [
            "(a) POST /upload/",
            f"{upload_rate:.1f} MiB/s",
            f"{upload_s:.2f} s",
            f"{throughput_ratio:.2f}",
            "(informative)",
        ],
        [
            "    direct put_stream + move",
            f"{put_move_rate:.1f} MiB/s",
            f"move {move_s:.2f} s",
            num(upload_rate / put_move_rate),
            "(diagnostic)",
        ],
        [
            "(b) server RSS growth during upload",
            f"{growth:.1f} MiB",
            f"base {uploads[0].rss_baseline / MIB:.0f} MiB",
            "",
            f"< {RSS_TARGET_MIB:.0f} MiB  {mark(rss_ok)}",
        ],
        [
            f"(c) /info p99, idle ({requests} req, {INFO_CONCURRENCY} conn)",
            f"{idle_p99:.1f} ms",
            f"p50 {idle.info.p50_ms:.1f} ms",
            "",
            "baseline",
        ],
        [
            "(c) /info p99, during upload",
            f"{busy_p99:.1f} ms",
            f"p50 {percentile(inside, 50) * 1000:.1f} ms",
            f"{info_ratio:.2f}",
            f"< {INFO_RATIO_TARGET:.0f}  {mark(info_ok)}",
        ],
        [
            "    /health/live probe p99, idle",
            f"{live_idle:.1f} ms",
            f"p50 {percentile(idle.live, 50) * 1000:.1f} ms, n={len(idle.live)}",
            "",
            "(diagnostic)",
        ],
        [
            "    /health/live probe p99, during upload",
            f"{live_busy:.1f} ms",
            f"p50 {percentile(busy.live, 50) * 1000:.1f} ms, n={len(busy.live)}",
            num(live_busy / live_idle if live_idle else None),
            "(diagnostic)",
        ],
    ]
    print(table(["figure", "value", "detail", "ratio", "target"], rows))
    print(
        f"\nnotes:\n"
        f"- rates are MiB/s of file bytes; each side ran {args.rounds}x alternately, medians shown "
        f"(uploads {', '.join(f'{u.seconds:.2f}' for u in uploads)} s; direct {', '.join(f'{d:.2f}' for d in directs)} s).\n"
        f"- 'direct put_stream + move' adds the store's move (the server's commit step) to the baseline; its ratio is\n"
        f"  what HTTP, multipart parsing, SHA-256 and the database cost beyond the two storage operations.\n"
        f"- the HTTP upload also does what the direct put does not: multipart parsing and SHA-256 in the server,\n"
        f"  then the commit: {'a server-side copy_object (staging key -> content key, another full copy inside moto) + delete' if storage == 's3' else 'a rename'}, and the database rows.\n"
        f"- server CPU per uploaded MiB: {cpu_per_mib:.1f} ms; RSS growth during the (c) upload (with 50 /info connections): {loaded_growth:.1f} MiB.\n"
        f"- (c) counted {len(inside)} of {busy.counted} /info requests that ran entirely while the upload was in flight"
        f" (that upload took {loaded_seconds:.1f} s); errors idle/busy: {idle.info.errors}/{busy.info.errors}.\n"
        f"- the /health/live probe touches neither database nor storage: if it stays flat while /info grows, the event loop\n"
        f"  is free and /info waits on its dependencies (the DB pool, the storage stat"
        + (", and moto, which shares the 2 CPUs with the upload" if storage == "s3" else "")
        + ").\n"
        + (f"- moto RSS at the end: {moto_rss / MIB:.0f} MiB (objects live in moto's memory).\n" if moto_rss else "")
    )

    record(BENCH, "direct put_stream throughput", round(direct_rate, 1), unit="MiB/s")
    record(
        BENCH,
        f"POST /upload/ throughput ({args.size_mb} MiB, {storage})",
        round(upload_rate, 1),
        baseline=round(direct_rate, 1),
        ratio=round(throughput_ratio, 3),
        unit="MiB/s",
    )
    record(
        BENCH,
        "POST /upload/ vs direct put_stream + move",
        round(upload_rate, 1),
        unit="MiB/s",
        baseline=round(put_move_rate, 1),
        ratio=round(upload_rate / put_move_rate, 3),
    )
    record(
        BENCH,
        "server peak RSS growth during upload",
        round(growth, 1),
        unit="MiB",
        target=f"< {RSS_TARGET_MIB:.0f} MiB",
        passed=rss_ok,
    )
    record(
        BENCH,
        f"/info p99 during upload ({INFO_CONCURRENCY} conn)",
        round(busy_p99, 2),
        unit="ms",
        baseline=round(idle_p99, 2),
        ratio=round(info_ratio, 3),
        target=f"< {INFO_RATIO_TARGET:.0f}",
        passed=info_ok,
    )
    record(
        BENCH,
        "/health/live probe p99 during upload",
        round(live_busy, 2),
        unit="ms",
        baseline=round(live_idle, 2),
        ratio=round(live_busy / live_idle, 3) if live_idle else None,
    )
    return 0 if rss_ok and info_ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=200, help="size of the uploaded file in MiB")
    parser.add_argument("--storage", choices=("s3", "fs"), default="s3", help="moto S3 server or a temp folder")
    parser.add_argument("--rounds", type=int, default=2, help="timed uploads and direct puts, alternating")
    parser.add_argument("--max-info-requests", type=int, default=3000, help="cap on /info requests per phase")
    parser.add_argument("--timeout", type=float, default=230.0, help="give up (and clean up) after this many seconds")
    args = parser.parse_args(argv)
    if args.size_mb < 2 or args.rounds < 1:
        parser.error("--size-mb must be >= 2 and --rounds >= 1")

    async def go() -> int:
        return await asyncio.wait_for(bench(args), timeout=args.timeout)

    return run(go)


if __name__ == "__main__":
    sys.exit(main())

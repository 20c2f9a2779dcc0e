"""Platform load: a mixed workload on every service in one process, and the event pipeline.

Run as ``python -m bench.load.bench_load [--seconds 45] [--clients 50] [--storage fs|s3]``. One run
starts NATS, a fresh PostgreSQL database, object storage (a temporary folder, or moto's S3 server
in its own process) and ``forge serve --services all --workers`` with ``AUDIT_WARM_UP=false``
(ScanCode's index is not loaded: nothing here submits audits or transcriptions), registers
``--users`` accounts (login is argon2, deliberately slow, so tokens are shared among clients),
then measures:

(1) events, on the otherwise idle platform: ``--burst`` JPEGs with EXIF uploaded as fast as
    ``--burst-concurrency`` connections allow; for each, the time from the upload's 201 to the
    first ``GET /upload/{id}/info`` that shows ``processed: true`` (upload commit -> outbox ->
    JetStream -> ghost extraction -> outbox -> JetStream -> upload's consumer), p50/p99, and the
    files fully processed per second over the burst. Ghost's consumer takes one file at a time,
    so files finish roughly in upload order: the oldest pending files are polled every
    ``--poll-interval`` s by ``--poll-concurrency`` connections and one more connection sweeps
    the rest. The server's own stamp (``processing_result.received_at``) gives the same latency
    without the polling error, and the outbox/extraction rows in the database split it by stage.
(2) the mixed workload: ``--clients`` concurrent clients (one keep-alive connection each) for
    ``--seconds`` s, each looping with no think time over a weighted mix: upload of a small PNG or
    JPEG (2-200 KB, unique bytes, plus a few deliberate duplicates), ``/info`` and download of one
    of its own uploads, the first page of its user's files, ghost extract of a JPEG with EXIF. Per
    operation: req/s, p50/p99 and statuses; in total: req/s, p50/p99, 5xx (target 0) and the
    server's peak RSS. The ghost extraction of every upload of the mix is then given
    ``--drain-seconds`` to finish: the backlog the mix left and the event latency under load
    (database timestamps, by stage) are reported.

Client and server share the machine's cores (so do PostgreSQL and NATS): the CPU each used is
printed with the figures, and the client's share says how much of the limit is the client's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import itertools
import math
import os
import random
import struct
import sys
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import httpx
from PIL import Image

from bench.common import (
    MIB,
    Account,
    Platform,
    RssSampler,
    Storage,
    cpu_seconds,
    login,
    mark,
    num,
    percentile,
    platform,
    record,
    register,
    rss_bytes,
    run,
    table,
)
from bench.ghost.corpus import planted_exif
from libs.contracts.ghost import METADATA_EXTRACTED
from libs.contracts.upload import FILE_STORED

BENCH = "load"
SERVICES = ("auth", "upload", "ghost", "sonic", "audit")
REQUEST_TIMEOUT = 30.0
# The weighted mix of operations and the status each one should answer.
MIX: dict[str, float] = {"upload": 0.20, "info": 0.30, "list": 0.15, "download": 0.20, "extract": 0.15}
EXPECTED = {"upload": 201, "info": 200, "list": 200, "download": 200, "extract": 200}
DUPLICATE_SHARE = 0.15  # of uploads: the same few files again (content-addressed: no new blob)
PNG_SIDES = (24, 48, 96, 160, 256)  # noise PNGs: ~2 KB .. ~197 KB
JPEG_SIDES = (64, 128, 192, 256)  # noise JPEGs with EXIF (q85): ~10 KB .. ~120 KB
WINDOW_SECONDS = 5.0


# --------------------------------------------------------------------------------------------
# files


def noise_png(side: int, rng: random.Random) -> bytes:
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def exif_jpeg(side: int, rng: random.Random) -> bytes:
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85, exif=planted_exif().tobytes())
    return out.getvalue()


def tagged_png(png: bytes, tag: str) -> bytes:
    """`png` with a tEXt chunk after IHDR holding `tag`: new bytes, same picture, no re-encoding."""
    data = b"Comment\x00" + tag.encode()
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def tagged_jpeg(jpeg: bytes, tag: str) -> bytes:
    """`jpeg` with a COM segment holding `tag` after its APPn segments (EXIF stays first)."""
    offset = 2
    while jpeg[offset] == 0xFF and 0xE0 <= jpeg[offset + 1] <= 0xEF:
        offset += 2 + struct.unpack_from(">H", jpeg, offset + 2)[0]
    payload = tag.encode()
    segment = b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:offset] + segment + jpeg[offset:]


@dataclass(frozen=True)
class UploadFile:
    name: str
    data: bytes
    content_type: str

    def multipart(self) -> dict[str, tuple[str, bytes, str]]:
        return {"file": (self.name, self.data, self.content_type)}


class Corpus:
    """Base pictures made once; each upload gets unique bytes by a cheap splice, not re-encoding."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.pngs = [noise_png(side, rng) for side in PNG_SIDES]
        self.jpegs = [exif_jpeg(side, rng) for side in JPEG_SIDES]
        run_tag = uuid.uuid4().hex
        self.duplicates = [
            UploadFile("duplicate-a.png", tagged_png(self.pngs[1], run_tag), "image/png"),
            UploadFile("duplicate-b.jpg", tagged_jpeg(self.jpegs[0], run_tag), "image/jpeg"),
            UploadFile("duplicate-c.jpg", tagged_jpeg(self.jpegs[2], run_tag), "image/jpeg"),
        ]
        self.extract_sample = UploadFile("exif.jpg", self.jpegs[1], "image/jpeg")

    def unique_jpeg(self, rng: random.Random, tag: str) -> UploadFile:
        return UploadFile(f"photo-{tag}.jpg", tagged_jpeg(rng.choice(self.jpegs), tag), "image/jpeg")

    def for_upload(self, rng: random.Random, tag: str) -> UploadFile:
        if rng.random() < DUPLICATE_SHARE:
            return rng.choice(self.duplicates)
        if rng.random() < 0.5:
            return UploadFile(f"image-{tag}.png", tagged_png(rng.choice(self.pngs), tag), "image/png")
        return self.unique_jpeg(rng, tag)

    def sizes(self) -> tuple[int, int]:
        every = self.pngs + self.jpegs
        return min(map(len, every)), max(map(len, every))


# --------------------------------------------------------------------------------------------
# setup


async def make_accounts(base_url: str, count: int) -> list[Account]:
    """`count` users, registered and logged in two at a time (each is an argon2 hash)."""
    limit = asyncio.Semaphore(2)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:

        async def one() -> Account:
            async with limit:
                email, password = await register(client)
                return await login(client, email, password)

        return list(await asyncio.gather(*(one() for _ in range(count))))


def client_for(base_url: str, connections: int, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers or {},
        timeout=REQUEST_TIMEOUT,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


# --------------------------------------------------------------------------------------------
# server probes


@dataclass
class Probe:
    t: float
    rss: int
    cpu: float


async def probe_server(pid: int, stop: asyncio.Event, out: list[Probe], interval: float = 1.0) -> None:
    while not stop.is_set():
        try:
            out.append(Probe(time.perf_counter(), rss_bytes(pid), cpu_seconds(pid)))
        except Exception:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


def log_findings(p: Platform, limit: int = 8) -> tuple[int, list[str]]:
    """Warning/error lines in the server's log (LOG_LEVEL=WARNING): how many, and the distinct firsts."""
    try:
        lines = p.log_path.read_text(errors="replace").splitlines()
    except OSError:
        return 0, []
    hits = [line for line in lines if any(word in line.lower() for word in ("error", "warning", "traceback"))]
    distinct: list[str] = []
    for line in hits:
        short = line.strip()[:200]
        if short not in distinct:
            distinct.append(short)
        if len(distinct) >= limit:
            break
    return len(hits), distinct


# --------------------------------------------------------------------------------------------
# database views of the event pipeline (diagnostics; the figures come from HTTP)

STAGES = (
    ("upload outbox relay", "stored_sent", "stored_at"),
    ("JetStream + ghost queue + extraction", "extracted_at", "stored_sent"),
    ("ghost outbox relay", "extracted_sent", "extracted_at"),
    ("JetStream + upload consumer", "processed_at", "extracted_sent"),
    ("total (commit -> processed)", "processed_at", "stored_at"),
)
PIPELINE_SQL = f"""
WITH stored AS (
    SELECT convert_from(payload, 'UTF8')::jsonb -> 'data' ->> 'file_id' AS file_id, created_at, sent_at
    FROM upload.outbox WHERE subject = '{FILE_STORED}'
), extracted AS (
    SELECT convert_from(payload, 'UTF8')::jsonb -> 'data' ->> 'file_id' AS file_id, sent_at
    FROM ghost.outbox WHERE subject = '{METADATA_EXTRACTED}'
)
SELECT extract(epoch FROM s.created_at)::float8 AS stored_at,
       extract(epoch FROM s.sent_at)::float8 AS stored_sent,
       extract(epoch FROM e.created_at)::float8 AS extracted_at,
       extract(epoch FROM x.sent_at)::float8 AS extracted_sent,
       extract(epoch FROM f.updated_at)::float8 AS processed_at
FROM upload.uploaded_files f
JOIN stored s ON s.file_id = f.id::text
JOIN ghost.extractions e ON e.file_id = f.id::text
JOIN extracted x ON x.file_id = f.id::text
WHERE f.processed AND f.id = ANY($1::uuid[])
"""


async def pipeline_stages(dsn: str, file_ids: Sequence[str]) -> dict[str, list[float]]:
    """Seconds spent in each stage of upload -> ghost -> upload, per processed file."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(PIPELINE_SQL, [uuid.UUID(f) for f in file_ids])
    finally:
        await conn.close()
    stages: dict[str, list[float]] = {name: [] for name, _, _ in STAGES}
    for row in rows:
        if any(value is None for value in row.values()):
            continue
        for name, end, begin in STAGES:
            stages[name].append(float(row[end]) - float(row[begin]))
    return stages


async def unprocessed(dsn: str) -> tuple[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE NOT processed) AS pending, count(*) AS total"
            " FROM upload.uploaded_files WHERE deleted_at IS NULL"
        )
    finally:
        await conn.close()
    assert row is not None
    return int(row["pending"]), int(row["total"])


async def dead_letters(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    found: Counter[str] = Counter()
    try:
        for schema in SERVICES:
            rows = await conn.fetch(f"SELECT consumer, count(*) AS n FROM {schema}.dead_letters GROUP BY 1")
            for row in rows:
                found[f"{schema}/{row['consumer']}"] += int(row["n"])
    finally:
        await conn.close()
    return dict(found)


def stage_rows(stages: dict[str, list[float]]) -> list[list[object]]:
    return [
        [
            name,
            num(percentile(values, 50) * 1000, 1),
            num(percentile(values, 99) * 1000, 1),
            num(max(values) * 1000, 1) if values else "-",
            len(values),
        ]
        for name, values in stages.items()
    ]


# --------------------------------------------------------------------------------------------
# (1) events: burst of uploads, time until ghost's metadata is on each file


@dataclass
class Tracked:
    file_id: str
    headers: dict[str, str]
    sent: float  # perf_counter when the POST began
    accepted: float  # perf_counter at the 201
    accepted_wall: float  # time.time() at the 201 (compared with the server's received_at stamp)
    observed: float | None = None
    received_wall: float | None = None
    outcome: str | None = None
    polls: int = 0


@dataclass
class EventsResult:
    tracked: list[Tracked]
    upload_errors: Counter[str]
    poll_errors: Counter[str]
    burst_started: float
    stages: dict[str, list[float]] = field(default_factory=dict)

    @property
    def done(self) -> list[Tracked]:
        return [t for t in self.tracked if t.observed is not None]

    @property
    def observed_latencies(self) -> list[float]:
        return [t.observed - t.accepted for t in self.done if t.observed is not None]

    @property
    def stamped_latencies(self) -> list[float]:
        return [t.received_wall - t.accepted_wall for t in self.done if t.received_wall is not None]

    @property
    def throughput(self) -> float:
        """Files fully processed per second, from the first upload's start to the last observed."""
        ends = [t.observed for t in self.done if t.observed is not None]
        return len(ends) / (max(ends) - self.burst_started) if ends else math.nan

    @property
    def consumer_rate(self) -> float:
        """Files per second between the first and the last server stamp (the pipeline's pace)."""
        stamps = sorted(t.received_wall for t in self.done if t.received_wall is not None)
        return (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 and stamps[-1] > stamps[0] else math.nan

    @property
    def upload_rate(self) -> float:
        if not self.tracked:
            return math.nan
        return len(self.tracked) / (max(t.accepted for t in self.tracked) - self.burst_started)


class Poller:
    """Polls `/info` of accepted files until each shows `processed`, oldest pending first."""

    def __init__(self, client: httpx.AsyncClient, *, interval: float, concurrency: int, errors: Counter[str]) -> None:
        self.client = client
        self.interval = interval
        self.window = max(2 * concurrency, 4)
        self.slots = asyncio.Semaphore(concurrency)
        self.errors = errors
        self.tracked: list[Tracked] = []  # in the order the uploads were accepted
        self.uploads_done = asyncio.Event()

    def pending(self) -> list[Tracked]:
        return [t for t in self.tracked if t.observed is None]

    async def check(self, item: Tracked) -> None:
        try:
            response = await self.client.get(f"/upload/{item.file_id}/info", headers=item.headers)
        except httpx.HTTPError as exc:
            self.errors[type(exc).__name__] += 1
            return
        now = time.perf_counter()
        item.polls += 1
        if response.status_code != 200:
            self.errors[str(response.status_code)] += 1
            return
        data = response.json()["data"]
        if not data["processed"] or item.observed is not None:
            return
        item.observed = now
        result = data.get("processing_result") or {}
        item.outcome = str(result.get("status"))
        received = result.get("received_at")
        if isinstance(received, str):
            item.received_wall = datetime.fromisoformat(received).timestamp()

    async def _limited(self, item: Tracked) -> None:
        async with self.slots:
            await self.check(item)

    async def head(self, deadline: float) -> None:
        """The oldest pending files, every `interval`: where the next completions come from."""
        while time.perf_counter() < deadline:
            pending = self.pending()
            if not pending and self.uploads_done.is_set():
                return
            await asyncio.gather(*(self._limited(t) for t in pending[: self.window]))
            await asyncio.sleep(self.interval)

    async def sweep(self, deadline: float) -> None:
        """The rest, one at a time: catches a file finished out of order."""
        while time.perf_counter() < deadline:
            rest = self.pending()[self.window :]
            if not rest:
                if self.uploads_done.is_set() and not self.pending():
                    return
                await asyncio.sleep(self.interval)
                continue
            for item in rest:
                if time.perf_counter() >= deadline:
                    return
                if item.observed is None:
                    await self.check(item)
                await asyncio.sleep(self.interval)

    async def until_processed(self, items: Sequence[Tracked], timeout: float) -> None:
        self.tracked = list(items)
        self.uploads_done.set()
        deadline = time.perf_counter() + timeout
        await asyncio.gather(self.head(deadline), self.sweep(deadline))


async def upload_one(
    client: httpx.AsyncClient, account: Account, upload: UploadFile, errors: Counter[str]
) -> Tracked | None:
    sent = time.perf_counter()
    try:
        response = await client.post("/upload/", files=upload.multipart(), headers=account.headers)
    except httpx.HTTPError as exc:
        errors[type(exc).__name__] += 1
        return None
    accepted, accepted_wall = time.perf_counter(), time.time()
    if response.status_code != 201:
        errors[str(response.status_code)] += 1
        return None
    return Tracked(response.json()["data"]["file_id"], account.headers, sent, accepted, accepted_wall)


async def events_phase(
    p: Platform, accounts: Sequence[Account], corpus: Corpus, args: argparse.Namespace
) -> EventsResult:
    rng = random.Random(args.seed)
    upload_errors: Counter[str] = Counter()
    poll_errors: Counter[str] = Counter()
    connections = args.burst_concurrency + args.poll_concurrency + 2
    async with client_for(p.base_url, connections) as client:
        # Warm-up (untimed): the first uploads and extractions pay lazy imports and first connections.
        warm = [
            await upload_one(client, accounts[i % len(accounts)], corpus.unique_jpeg(rng, f"warm{i}"), upload_errors)
            for i in range(3)
        ]
        warm_poller = Poller(client, interval=0.1, concurrency=2, errors=poll_errors)
        await warm_poller.until_processed([t for t in warm if t is not None], timeout=60)
        upload_errors.clear()
        poll_errors.clear()

        poller = Poller(client, interval=args.poll_interval, concurrency=args.poll_concurrency, errors=poll_errors)
        files = [corpus.unique_jpeg(rng, f"burst{i}-{uuid.uuid4().hex[:8]}") for i in range(args.burst)]
        queue = iter(enumerate(files))
        started = time.perf_counter()

        async def uploader() -> None:
            for index, upload in queue:
                item = await upload_one(client, accounts[index % len(accounts)], upload, upload_errors)
                if item is not None:
                    poller.tracked.append(item)

        deadline = started + args.burst_timeout
        polling = asyncio.gather(poller.head(deadline), poller.sweep(deadline))
        try:
            await asyncio.gather(*(uploader() for _ in range(args.burst_concurrency)))
            poller.uploads_done.set()
            await polling
        finally:
            if not polling.done():
                polling.cancel()
                await asyncio.gather(polling, return_exceptions=True)
    result = EventsResult(poller.tracked, upload_errors, poll_errors, started)
    result.stages = await pipeline_stages(p.env["DATABASE_URL"], [t.file_id for t in result.done])
    return result


def print_events(result: EventsResult, args: argparse.Namespace) -> None:
    observed = result.observed_latencies
    stamped = result.stamped_latencies
    lag = [
        t.observed - t.accepted - (t.received_wall - t.accepted_wall)
        for t in result.done
        if t.received_wall and t.observed is not None
    ]
    outcomes = Counter(t.outcome for t in result.done)
    polls = sum(t.polls for t in result.tracked)
    print(
        f"\n(1) events: burst of {args.burst} JPEGs ({args.burst_concurrency} upload connections),"
        f" polled every {args.poll_interval * 1000:.0f} ms by {args.poll_concurrency}+1 connections"
    )
    rows: list[list[object]] = [
        [
            "201 -> processed seen by /info",
            num(percentile(observed, 50) * 1000, 1),
            num(percentile(observed, 99) * 1000, 1),
            num(max(observed) * 1000, 1) if observed else "-",
            len(observed),
        ],
        [
            "201 -> received_at (server stamp)",
            num(percentile(stamped, 50) * 1000, 1),
            num(percentile(stamped, 99) * 1000, 1),
            num(max(stamped) * 1000, 1) if stamped else "-",
            len(stamped),
        ],
        [
            "  polling lag (seen - stamped)",
            num(percentile(lag, 50) * 1000, 1),
            num(percentile(lag, 99) * 1000, 1),
            num(max(lag) * 1000, 1) if lag else "-",
            len(lag),
        ],
        *stage_rows(result.stages),
    ]
    print(table(["latency (ms)", "p50", "p99", "max", "files"], rows))
    print(
        f"uploads accepted: {len(result.tracked)}/{args.burst} at {num(result.upload_rate, 1)} files/s;"
        f" fully processed: {len(result.done)} ({dict(outcomes)}) at {num(result.throughput, 1)} files/s over the burst;"
        f" pipeline pace between first and last stamp: {num(result.consumer_rate, 1)} files/s;"
        f" {polls} polls ({polls / max(len(result.tracked), 1):.1f} per file)."
    )
    if result.upload_errors or result.poll_errors:
        print(f"errors: uploads {dict(result.upload_errors)}, polls {dict(result.poll_errors)}")


# --------------------------------------------------------------------------------------------
# (2) the mixed workload


@dataclass(slots=True)
class Sample:
    op: str
    start: float
    latency: float
    status: int | None  # None: no HTTP answer (see `error`)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == EXPECTED[self.op]


@dataclass
class Owned:
    file_id: str
    size: int


@dataclass
class MixResult:
    samples: list[Sample]
    elapsed: float
    started: float
    probes: list[Probe]
    rss_baseline: int
    rss_peak: int
    server_cpu: float
    client_cpu: float
    uploaded: list[str]
    duplicates_flagged: int
    bad_bodies: int

    def of(self, op: str | None = None) -> list[Sample]:
        return [s for s in self.samples if op is None or s.op == op]

    def count_5xx(self) -> int:
        return sum(1 for s in self.samples if s.status is not None and s.status >= 500)

    def unexpected_4xx(self) -> int:
        return sum(1 for s in self.samples if s.status is not None and 400 <= s.status < 500)

    def transport_errors(self) -> int:
        return sum(1 for s in self.samples if s.status is None)


async def mixed_client(
    index: int,
    base_url: str,
    account: Account,
    corpus: Corpus,
    deadline: float,
    samples: list[Sample],
    uploaded: list[str],
    counters: Counter[str],
    seed: int,
) -> None:
    rng = random.Random(seed * 1000 + index)
    ops, weights = list(MIX), list(MIX.values())
    owned: list[Owned] = []
    serial = 0
    async with client_for(base_url, 1, account.headers) as client:
        while time.perf_counter() < deadline:
            op = rng.choices(ops, weights)[0]
            if op in ("info", "download") and not owned:
                op = "upload"
            target = rng.choice(owned) if owned and op in ("info", "download") else None
            upload = None
            if op == "upload":
                serial += 1
                upload = corpus.for_upload(rng, f"c{index}n{serial}-{uuid.uuid4().hex[:8]}")
            began = time.perf_counter()
            try:
                if upload is not None:
                    response = await client.post("/upload/", files=upload.multipart())
                elif op == "info":
                    assert target is not None
                    response = await client.get(f"/upload/{target.file_id}/info")
                elif op == "download":
                    assert target is not None
                    response = await client.get(f"/upload/{target.file_id}/download")
                elif op == "list":
                    response = await client.get("/upload/", params={"limit": 20})
                else:
                    response = await client.post(
                        "/api/v1/trapdoor/ghost/extract", files=corpus.extract_sample.multipart()
                    )
            except httpx.HTTPError as exc:
                samples.append(Sample(op, began, time.perf_counter() - began, None, type(exc).__name__))
                continue
            samples.append(Sample(op, began, time.perf_counter() - began, response.status_code))
            if upload is not None and response.status_code == 201:
                data = response.json()["data"]
                owned.append(Owned(data["file_id"], int(data["size"])))
                uploaded.append(data["file_id"])
                counters["duplicates"] += bool(data.get("is_duplicate"))
            elif op == "download" and response.status_code == 200:
                assert target is not None
                if len(response.content) != target.size:
                    counters["bad_bodies"] += 1


@dataclass
class Baseline:
    """The platform's floor: the same clients on the cheapest authenticated route (`/api/v1/auth/me`:
    token check, no database, no storage) — what the mix's req/s and latency are divided by."""

    rps: float
    p50: float
    p99: float
    errors: int


async def baseline_phase(p: Platform, accounts: Sequence[Account], args: argparse.Namespace) -> Baseline:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + args.baseline_seconds

    async def one(index: int) -> None:
        nonlocal errors
        async with client_for(p.base_url, 1, accounts[index % len(accounts)].headers) as client:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    r = await client.get("/api/v1/auth/me")
                except httpx.HTTPError:
                    errors += 1
                    continue
                if r.status_code == 200:
                    latencies.append(time.perf_counter() - began)
                else:
                    errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(args.clients)))
    elapsed = time.perf_counter() - started
    return Baseline(len(latencies) / elapsed, percentile(latencies, 50), percentile(latencies, 99), errors)


async def mixed_phase(p: Platform, accounts: Sequence[Account], corpus: Corpus, args: argparse.Namespace) -> MixResult:
    samples: list[Sample] = []
    uploaded: list[str] = []
    counters: Counter[str] = Counter()
    probes: list[Probe] = []
    stop = asyncio.Event()
    sampler = RssSampler(p.pid, interval=0.05).start()
    probing = asyncio.create_task(probe_server(p.pid, stop, probes))
    cpu_before, client_before = cpu_seconds(p.pid), time.process_time()
    started = time.perf_counter()
    deadline = started + args.seconds
    try:
        await asyncio.gather(
            *(
                mixed_client(
                    i,
                    p.base_url,
                    accounts[i % len(accounts)],
                    corpus,
                    deadline,
                    samples,
                    uploaded,
                    counters,
                    args.seed,
                )
                for i in range(args.clients)
            )
        )
        elapsed = time.perf_counter() - started
    finally:
        sampler.stop()
        stop.set()
        await probing
    return MixResult(
        samples=samples,
        elapsed=elapsed,
        started=started,
        probes=probes,
        rss_baseline=sampler.baseline,
        rss_peak=sampler.peak,
        server_cpu=cpu_seconds(p.pid) - cpu_before,
        client_cpu=time.process_time() - client_before,
        uploaded=uploaded,
        duplicates_flagged=counters["duplicates"],
        bad_bodies=counters["bad_bodies"],
    )


def status_text(samples: Sequence[Sample]) -> str:
    counts = Counter(str(s.status) if s.status is not None else s.error for s in samples)
    return " ".join(f"{k}:{v}" for k, v in sorted(counts.items()))


def print_mix(result: MixResult, args: argparse.Namespace) -> None:
    rows: list[list[object]] = []
    for op in [*MIX, None]:
        picked = result.of(op)
        good = [s.latency for s in picked if s.ok]
        rows.append(
            [
                op or "all",
                f"{MIX[op]:.0%}" if op else "",
                len(picked),
                num(len(good) / result.elapsed, 1),
                num(percentile(good, 50) * 1000, 1),
                num(percentile(good, 99) * 1000, 1),
                num(max(good) * 1000, 1) if good else "-",
                status_text(picked),
            ]
        )
    print(
        f"\n(2) mixed workload: {args.clients} clients sharing {args.users} users' tokens,"
        f" {result.elapsed:.1f} s (closed loop, no think time), storage={args.storage}"
    )
    print(table(["operation", "mix", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "statuses"], rows))

    # Throughput, latency and memory over time: a cliff or a leak shows as a trend.
    windows: list[list[object]] = []
    edges = [result.started + i * WINDOW_SECONDS for i in range(math.ceil(result.elapsed / WINDOW_SECONDS) + 1)]
    for begin, end in itertools.pairwise(edges):
        inside = [s for s in result.samples if begin <= s.start + s.latency < end]
        good = [s.latency for s in inside if s.ok]
        probes = [pr for pr in result.probes if begin <= pr.t < end]
        cpu = (probes[-1].cpu - probes[0].cpu) / (probes[-1].t - probes[0].t) if len(probes) > 1 else math.nan
        windows.append(
            [
                f"{begin - result.started:.0f}-{min(end, result.started + result.elapsed) - result.started:.0f} s",
                num(len(good) / (end - begin), 1),
                num(percentile(good, 50) * 1000, 1),
                num(percentile(good, 99) * 1000, 1),
                sum(1 for s in inside if not s.ok),
                num(max(pr.rss for pr in probes) / MIB, 0) if probes else "-",
                num(cpu * 100, 0),
            ]
        )
    print(table(["window", "req/s", "p50 ms", "p99 ms", "not ok", "server RSS MiB", "server CPU %"], windows))
    uploads = [s for s in result.samples if s.op == "upload" and s.ok]
    print(
        f"server RSS: {result.rss_baseline / MIB:.0f} MiB at the start, peak {result.rss_peak / MIB:.0f} MiB"
        f" (+{(result.rss_peak - result.rss_baseline) / MIB:.0f} MiB);"
        f" CPU: server {result.server_cpu / result.elapsed:.2f} cores, this client {result.client_cpu / result.elapsed:.2f}"
        f" cores (of {os.cpu_count()});"
        f" uploads: {len(uploads)} ({result.duplicates_flagged} flagged duplicate); download bodies of the wrong size:"
        f" {result.bad_bodies}."
    )


# --------------------------------------------------------------------------------------------
# after the mix: the event backlog it left


@dataclass
class Drain:
    backlog_at_end: int
    remaining: int
    seconds: float
    total_files: int
    stages: dict[str, list[float]]


async def drain_phase(p: Platform, mix: MixResult, args: argparse.Namespace) -> Drain:
    dsn = p.env["DATABASE_URL"]
    backlog, total = await unprocessed(dsn)
    started = time.perf_counter()
    remaining = backlog
    while remaining and time.perf_counter() - started < args.drain_seconds:
        await asyncio.sleep(0.5)
        remaining, total = await unprocessed(dsn)
    seconds = time.perf_counter() - started
    stages = await pipeline_stages(dsn, mix.uploaded)
    return Drain(backlog, remaining, seconds, total, stages)


def print_drain(drain: Drain, mix: MixResult) -> None:
    rate = (drain.backlog_at_end - drain.remaining) / drain.seconds if drain.seconds > 0 else math.nan
    print(
        f"\nevent backlog: {drain.backlog_at_end} of {drain.total_files} files not yet processed when the mix ended;"
        f" {drain.remaining} left after {drain.seconds:.1f} s more ({num(rate, 1)} files/s while draining)."
    )
    print(f"event latency of the mix's {len(mix.uploaded)} uploads, by stage (database timestamps):")
    print(table(["stage (ms)", "p50", "p99", "max", "files"], stage_rows(drain.stages)))


# --------------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> int:
    corpus = Corpus(args.seed)
    smallest, largest = corpus.sizes()
    storage: Storage = args.storage
    extra = {"AUDIT_WARM_UP": "false", "HF_HUB_OFFLINE": "1"}
    began = time.perf_counter()
    async with platform(SERVICES, storage=storage, extra_env=extra, workers=True) as p:
        startup = time.perf_counter() - began
        rss_ready = rss_bytes(p.pid)
        accounts = await make_accounts(p.base_url, args.users)
        events = await events_phase(p, accounts, corpus, args)
        rss_after_events = rss_bytes(p.pid)
        floor = await baseline_phase(p, accounts, args)
        mix = await mixed_phase(p, accounts, corpus, args)
        drain = await drain_phase(p, mix, args)
        rss_end = rss_bytes(p.pid)
        letters = await dead_letters(p.env["DATABASE_URL"])
        log_hits, log_lines = log_findings(p)

    print(
        f"\nLoad benchmark: forge serve --services all --workers, storage={storage}"
        + (" (moto S3 server, separate process)" if storage == "s3" else " (temp folder)")
        + f"; ready in {startup:.1f} s; {args.users} users; files {smallest / 1024:.0f}-{largest / 1024:.0f} KB;"
        f" {os.cpu_count()} CPUs shared with PostgreSQL, NATS, this client and whatever else runs."
    )
    print_events(events, args)
    print(
        f"\nbaseline: {args.clients} clients on GET /api/v1/auth/me for {args.baseline_seconds:.0f} s:"
        f" {floor.rps:.0f} req/s, p50 {floor.p50 * 1000:.1f} ms, p99 {floor.p99 * 1000:.1f} ms, errors {floor.errors}"
    )
    print_mix(mix, args)
    print_drain(drain, mix)
    print(
        f"\nserver RSS: ready {rss_ready / MIB:.0f} MiB, after events {rss_after_events / MIB:.0f} MiB,"
        f" mix peak {mix.rss_peak / MIB:.0f} MiB, end {rss_end / MIB:.0f} MiB."
        f" dead letters: {letters or 'none'}. server log warnings/errors: {log_hits}"
    )
    for line in log_lines:
        print(f"  {line}")

    good = [s.latency for s in mix.samples if s.ok]
    rps = len(good) / mix.elapsed
    p50, p99 = percentile(good, 50) * 1000, percentile(good, 99) * 1000
    n5xx, n4xx, transport = mix.count_5xx(), mix.unexpected_4xx(), mix.transport_errors()
    observed = events.observed_latencies
    events_ok = len(events.done) == args.burst and not events.upload_errors
    mix_ok = n5xx == 0 and transport == 0 and n4xx == 0 and mix.bad_bodies == 0
    print(
        f"\n5xx: {n5xx} (target 0) {mark(n5xx == 0)}; unexpected 4xx: {n4xx}; no answer: {transport};"
        f" burst fully processed: {len(events.done)}/{args.burst} {mark(events_ok)}"
    )

    shape = f"{args.clients} clients, {storage}"
    record(
        BENCH,
        f"mixed: throughput ({shape}) vs GET /auth/me",
        round(rps, 1),
        unit="req/s",
        baseline=round(floor.rps, 1),
        ratio=round(rps / floor.rps, 3) if floor.rps else None,
    )
    record(
        BENCH,
        "mixed: p50 latency (all operations) vs GET /auth/me",
        round(p50, 1),
        unit="ms",
        baseline=round(floor.p50 * 1000, 1),
        ratio=round(p50 / (floor.p50 * 1000), 2) if floor.p50 else None,
    )
    record(BENCH, "mixed: p99 latency (all operations)", round(p99, 1), unit="ms")
    for op in MIX:
        lat = [s.latency for s in mix.of(op) if s.ok]
        record(
            BENCH,
            f"mixed: {op} p99 ({len(lat) / mix.elapsed:.0f} req/s)",
            round(percentile(lat, 99) * 1000, 1),
            unit="ms",
        )
    record(BENCH, "mixed: 5xx responses", n5xx, target="== 0", passed=n5xx == 0)
    record(BENCH, "mixed: unexpected 4xx + no answer", n4xx + transport, target="== 0", passed=n4xx + transport == 0)
    record(
        BENCH,
        "mixed: server peak RSS",
        round(mix.rss_peak / MIB, 1),
        unit="MiB",
        baseline=round(mix.rss_baseline / MIB, 1),
        ratio=round(mix.rss_peak / mix.rss_baseline, 3),
    )
    record(
        BENCH,
        f"events: 201 -> processed p50 ({args.burst} files)",
        round(percentile(observed, 50) * 1000, 1),
        unit="ms",
    )
    record(BENCH, "events: 201 -> processed p99", round(percentile(observed, 99) * 1000, 1), unit="ms")
    record(BENCH, "events: files fully processed per second", round(events.throughput, 1), unit="files/s")
    record(
        BENCH,
        "events: burst files processed",
        len(events.done),
        target=f"== {args.burst}",
        passed=events_ok,
    )
    total = drain.stages["total (commit -> processed)"]
    record(BENCH, "events under mix: backlog when the mix ended", drain.backlog_at_end, unit="files")
    record(BENCH, "events under mix: commit -> processed p99", round(percentile(total, 99) * 1000, 1), unit="ms")
    return 0 if mix_ok and events_ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=45.0, help="length of the mixed workload")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients in the mixed workload")
    parser.add_argument("--storage", choices=("fs", "s3"), default="fs", help="a temp folder or moto's S3 server")
    parser.add_argument("--users", type=int, default=10, help="accounts whose tokens the clients share")
    parser.add_argument("--burst", type=int, default=200, help="JPEGs uploaded in the events phase")
    parser.add_argument("--burst-concurrency", type=int, default=8, help="upload connections in the burst")
    parser.add_argument("--burst-timeout", type=float, default=60.0, help="seconds for the burst to be processed")
    parser.add_argument("--poll-interval", type=float, default=0.025, help="seconds between polls of a pending file")
    parser.add_argument("--poll-concurrency", type=int, default=4, help="connections polling the oldest pending files")
    parser.add_argument("--baseline-seconds", type=float, default=8.0, help="length of the GET /auth/me baseline")
    parser.add_argument("--drain-seconds", type=float, default=30.0, help="wait for the mix's event backlog")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=270.0, help="give up (and clean up) after this many seconds")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.clients < 1 or args.users < 1 or args.burst < 1:
        parser.error("--seconds, --clients, --users and --burst must be positive")

    async def go() -> int:
        return await asyncio.wait_for(bench(args), timeout=args.timeout)

    return run(go)


if __name__ == "__main__":
    sys.exit(main())

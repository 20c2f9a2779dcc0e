"""Shared harness for the platform benchmarks.

- `platform(...)`: a real platform for one benchmark run: NATS (JetStream, own port and store), a
  fresh PostgreSQL database, object storage (a temporary folder, or moto's S3 server in its own
  process) and `forge serve --services …` as a subprocess; everything it started is stopped and
  removed on the way out (also on SIGTERM, see `run`).
- `register_and_login(...)`: a real user through the auth HTTP API.
- `load(...)`: N concurrent keep-alive connections (one `httpx.AsyncClient` each) for a fixed
  duration or request count → req/s, p50/p99.
- `RssSampler` / `cpu_seconds`: memory and CPU of a process, sampled from outside.
- `record(...)`: one result line for `python -m bench` (JSON lines in `$BENCH_RESULTS`).

Benchmarks compare figures measured side by side in one run: on a shared 2-core machine an
absolute time alone means little, a ratio of two things measured together means more.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

import httpx

from forge.localinfra import (
    NatsProcess,
    drop_database,
    ensure_database,
    find_local_postgres,
    free_port,
    start_embedded_postgres,
    wait_for_port,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_ENV = "BENCH_RESULTS"
ADMIN_EMAIL = "bench-admin@forge.test"
ADMIN_PASSWORD = "bench-admin-password-123"
S3_KEY = "testing"
Storage = Literal["fs", "s3"]


# --------------------------------------------------------------------------------------------
# results protocol


def record(
    bench: str,
    figure: str,
    value: float | None,
    *,
    unit: str = "",
    baseline: float | None = None,
    ratio: float | None = None,
    target: str | None = None,
    passed: bool | None = None,
) -> None:
    """Append one result line to the file named by `$BENCH_RESULTS` (no-op when unset).

    `target` is a human-readable condition such as "< 3" (on `ratio` when there is one, else on
    `value`); `passed` says whether this run met it.
    """
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    line = {
        "bench": bench,
        "figure": figure,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "ratio": ratio,
        "target": target,
    }
    if passed is not None:
        line["passed"] = passed
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def mark(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def run(main: Callable[[], Awaitable[int]]) -> int:
    """`asyncio.run(main())`, with SIGTERM cancelling it so every `finally` cleans up."""

    async def runner() -> int:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        # Not available on Windows nor off the main thread: there, SIGTERM just ends the process.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            return await main()
        except asyncio.CancelledError:
            print("benchmark cancelled (SIGTERM); cleaned up", file=sys.stderr)
            return 143

    return asyncio.run(runner())


# --------------------------------------------------------------------------------------------
# statistics


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


# --------------------------------------------------------------------------------------------
# process probes (psutil when installed, else /proc)

try:
    import psutil  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - psutil comes with the `local` extra
    psutil = None


def rss_bytes(pid: int) -> int:
    if psutil is not None:
        return int(psutil.Process(pid).memory_info().rss)
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise ProcessLookupError(pid)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process (all its threads) so far."""
    if psutil is not None:
        times = psutil.Process(pid).cpu_times()
        return float(times.user + times.system)
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """Sample a process's RSS every `interval` seconds in a thread; baseline is taken at start."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.baseline = 0
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                value = rss_bytes(self.pid)
            except (OSError, ProcessLookupError):
                return
            except Exception:  # psutil.NoSuchProcess and friends
                return
            self.peak = max(self.peak, value)
            self.samples += 1
            self._stop.wait(self.interval)

    def start(self) -> RssSampler:
        self.baseline = self.peak = rss_bytes(self.pid)
        self._thread = threading.Thread(target=self._run, name=f"rss-{self.pid}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def __enter__(self) -> RssSampler:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


MIB = 1024 * 1024


# --------------------------------------------------------------------------------------------
# the platform


@dataclass
class Platform:
    base_url: str
    pid: int
    env: dict[str, str]
    workdir: Path
    storage: Storage
    services: list[str]
    log_path: Path
    s3_endpoint: str | None = None
    moto_pid: int | None = None
    admin_email: str = ADMIN_EMAIL
    admin_password: str = ADMIN_PASSWORD

    def bucket(self, service: str) -> str:
        """The bucket (or sub-folder) `service` uses, as `forge.host` names it."""
        return f"{self.env.get('S3_BUCKET', 'forge')}-{service}"

    def object_store(self, service: str) -> Any:
        """An `ObjectStore` on the same bucket/folder the server's `service` writes to."""
        from libs.storage import FilesystemObjectStore, S3ObjectStore

        if self.storage == "s3":
            assert self.s3_endpoint is not None
            return S3ObjectStore(
                self.s3_endpoint, access_key=S3_KEY, secret_key=S3_KEY, bucket=self.bucket(service), secure=False
            )
        return FilesystemObjectStore(Path(self.env["STORAGE_PATH"]) / self.bucket(service))

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _stop_process(process: subprocess.Popen[bytes], grace: float) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextlib.contextmanager
def _moto(workdir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """moto's S3 server in its own process (its memory and CPU are not the benchmark's)."""
    port = free_port()
    log = open(workdir / "moto.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_KEY},
    )
    try:
        wait_for_port(port, timeout=30)
        yield process, f"http://127.0.0.1:{port}"
    finally:
        _stop_process(process, 10)
        log.close()


def _start_server(
    services: Sequence[str], port: int, env: Mapping[str, str], log_path: Path, *, workers: bool = False
) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    """`forge serve` as a child process, its output in `log_path` (shown if it fails to start)."""
    log = open(log_path, "wb")  # noqa: SIM115 - the caller closes it after the server stopped
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "forge",
            "serve",
            "--services",
            ",".join(services),
            "--port",
            str(port),
            "--workers" if workers else "--no-workers",
        ],
        env={**os.environ, **env},
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, log


async def _wait_ready(base_url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"forge serve exited with {process.returncode} before it was ready")
            try:
                response = await client.get("/health/ready")
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:300]}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            await asyncio.sleep(0.2)
    raise TimeoutError(f"forge serve not ready after {timeout}s (last: {last})")


@contextlib.asynccontextmanager
async def platform(
    services: Sequence[str],
    *,
    storage: Storage = "fs",
    extra_env: Mapping[str, str] | None = None,
    startup_timeout: float = 90.0,
    workers: bool = False,
) -> AsyncIterator[Platform]:
    """Start NATS, a fresh database, storage and `forge serve --services …`; yield; tear all down."""
    workdir = Path(tempfile.mkdtemp(prefix="forge-bench-"))
    stack = contextlib.ExitStack()
    nats = NatsProcess(workdir / "nats", free_port())
    postgres: Any = None
    admin: str | None = None
    database = f"forge_bench_{uuid.uuid4().hex[:10]}"
    server: subprocess.Popen[bytes] | None = None
    server_log = None
    try:
        nats.start()
        stack.callback(nats.stop)
        admin = os.environ.get("BENCH_ADMIN_DATABASE_URL") or await find_local_postgres()
        if admin is None:
            postgres, admin = start_embedded_postgres(workdir / "postgres")
        dsn = await ensure_database(admin, database)
        env = {
            "ENVIRONMENT": "test",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": dsn,
            "NATS_URL": nats.url,
            "BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
            "BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "S3_BUCKET": "forge-bench",
        }
        s3_endpoint = None
        moto_pid = None
        if storage == "s3":
            moto, s3_endpoint = stack.enter_context(_moto(workdir))
            moto_pid = moto.pid
            env |= {
                "STORAGE_BACKEND": "s3",
                "S3_ENDPOINT": s3_endpoint,
                "S3_ACCESS_KEY": S3_KEY,
                "S3_SECRET_KEY": S3_KEY,
                "S3_SECURE": "false",
            }
        else:
            (workdir / "objects").mkdir()
            env |= {"STORAGE_BACKEND": "fs", "STORAGE_PATH": str(workdir / "objects")}
        env |= dict(extra_env or {})
        port = free_port()
        log_path = workdir / "forge-serve.log"
        server, server_log = _start_server(services, port, env, log_path, workers=workers)
        base_url = f"http://127.0.0.1:{port}"
        running = Platform(
            base_url=base_url,
            pid=server.pid,
            env=env,
            workdir=workdir,
            storage=storage,
            services=list(services),
            log_path=log_path,
            s3_endpoint=s3_endpoint,
            moto_pid=moto_pid,
        )
        try:
            await _wait_ready(base_url, server, startup_timeout)
        except BaseException:
            print(f"forge serve did not become ready; its log ends with:\n{running.log_tail()}", file=sys.stderr)
            raise
        yield running
    finally:
        if server is not None:
            _stop_process(server, 25)
        if server_log is not None:
            server_log.close()
        stack.close()
        if admin is not None:
            with contextlib.suppress(Exception):
                await drop_database(admin, database)
        if postgres is not None:
            cleanup = getattr(postgres, "cleanup", None)
            if callable(cleanup):
                cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# users


@dataclass
class Account:
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def login(client: httpx.AsyncClient, email: str, password: str) -> Account:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    if response.status_code != 200:
        raise RuntimeError(f"login failed: {response.status_code} {response.text[:300]}")
    data = response.json()["data"]
    return Account(
        id=data["user"]["id"],
        email=email,
        password=password,
        access_token=data["access_token"],
        refresh_token=data["refresh_token"],
    )


async def register(client: httpx.AsyncClient, *, password: str = "correct-horse-battery") -> tuple[str, str]:
    """A new account (role user); returns (email, password)."""
    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": password, "name": "Bench User"}
    )
    if response.status_code != 201:
        raise RuntimeError(f"register failed: {response.status_code} {response.text[:300]}")
    return email, password


async def register_and_login(client: httpx.AsyncClient) -> Account:
    email, password = await register(client)
    return await login(client, email, password)


async def create_api_token(client: httpx.AsyncClient, account: Account, name: str = "bench") -> str:
    response = await client.post("/api/v1/tokens/", json={"name": name}, headers=account.headers)
    if response.status_code != 201:
        raise RuntimeError(f"token creation failed: {response.status_code} {response.text[:300]}")
    token: str = response.json()["data"]["token"]
    return token


# --------------------------------------------------------------------------------------------
# load generator


@dataclass
class LoadResult:
    """Samples are (start, latency) in seconds on the `time.perf_counter` clock."""

    path: str
    concurrency: int
    elapsed: float
    samples: list[tuple[float, float]] = field(default_factory=list)
    errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_cpu: float | None = None

    @property
    def requests(self) -> int:
        return len(self.samples)

    @property
    def latencies(self) -> list[float]:
        return [latency for _, latency in self.samples]

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed if self.elapsed > 0 else math.nan

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 99) * 1000

    @property
    def server_cpu_us_per_request(self) -> float:
        if self.server_cpu is None or not self.requests:
            return math.nan
        return self.server_cpu / self.requests * 1e6

    def within(self, start: float, end: float) -> list[float]:
        """Latencies of the requests that started and finished inside [start, end]."""
        return [lat for began, lat in self.samples if began >= start and began + lat <= end]


async def load(
    base_url: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    concurrency: int = 8,
    duration: float | None = None,
    requests: int | None = None,
    max_seconds: float = 120.0,
    expect: int = 200,
    server_pid: int | None = None,
) -> LoadResult:
    """`concurrency` workers, each with its own keep-alive connection, send GET `path` until
    `duration` seconds have passed or `requests` requests were sent (whichever is given; never
    longer than `max_seconds`). Each worker sends one untimed request first to open its
    connection. A response other than `expect` counts as an error, not as a sample."""
    if (duration is None) == (requests is None):
        raise ValueError("give exactly one of duration and requests")
    clients = [
        httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers or {}),
            timeout=30,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        for _ in range(concurrency)
    ]
    result = LoadResult(path=path, concurrency=concurrency, elapsed=0.0)
    remaining = requests if requests is not None else -1
    try:
        await asyncio.gather(*(client.get(path) for client in clients))
        started = time.perf_counter()
        hard_stop = started + max_seconds
        deadline = started + duration if duration is not None else hard_stop
        cpu_before = cpu_seconds(server_pid) if server_pid else None

        async def worker(client: httpx.AsyncClient) -> None:
            nonlocal remaining
            while True:
                now = time.perf_counter()
                if now >= deadline or now >= hard_stop:
                    return
                if requests is not None:
                    if remaining <= 0:
                        return
                    remaining -= 1
                began = time.perf_counter()
                try:
                    response = await client.get(path)
                except httpx.HTTPError:
                    result.errors += 1
                    continue
                latency = time.perf_counter() - began
                result.statuses[response.status_code] += 1
                if response.status_code == expect:
                    result.samples.append((began, latency))
                else:
                    result.errors += 1

        await asyncio.gather(*(worker(client) for client in clients))
        result.elapsed = time.perf_counter() - started
        if cpu_before is not None and server_pid is not None:
            result.server_cpu = cpu_seconds(server_pid) - cpu_before
    finally:
        await asyncio.gather(*(client.aclose() for client in clients), return_exceptions=True)
    return result


# --------------------------------------------------------------------------------------------
# printing


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain left/right aligned text table (numbers right-aligned)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [
        all(_numeric(row[i]) for row in cells[1:] if row[i]) and any(row[i] for row in cells[1:])
        for i in range(len(headers))
    ]

    def fmt(row: list[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if numeric[i] else cell.ljust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()

    lines = [fmt(cells[0]), "  ".join("-" * w for w in widths)]
    lines += [fmt(row) for row in cells[1:]]
    return "\n".join(lines)


def _numeric(text: str) -> bool:
    try:
        float(text.split()[0])
    except (ValueError, IndexError):
        return False
    return True


def num(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"

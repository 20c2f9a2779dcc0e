"""Shared pieces of the fault tests: `forge` processes with their own logs, readiness waits,
JPEGs with EXIF, and direct database and NATS access to check what the platform did.

Everything here is asynchronous (or runs blocking work in a thread) because the tests share the
session event loop with the rest of the suite: blocking it would stall other tests' servers."""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
from PIL import Image

from forge.localinfra import free_port
from tests.processes import FORGE, forge_env

T = TypeVar("T")
__all__ = [
    "FORGE",
    "ForgeProcess",
    "assert_envelope",
    "eventually",
    "forge_env",
    "forge_processes",
    "jpeg_with_exif",
    "pg",
    "scalar",
]


@dataclass
class ForgeProcess:
    """One `forge …` child process, its port and its log file."""

    args: list[str]
    env: dict[str, str]
    log_path: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    _log: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen([*FORGE, *self.args], env=self.env, stdout=self._log, stderr=subprocess.STDOUT)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    async def stop(self, timeout: float = 30.0) -> int | None:
        proc = self.process
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
            try:
                await asyncio.to_thread(proc.wait, timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait)
        if self._log is not None:
            self._log.close()
            self._log = None
        return proc.returncode

    async def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline:
                if not self.alive():
                    raise AssertionError(f"forge {' '.join(self.args)} exited early:\n{self.log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{self.url}/health/ready")).status_code == 200:
                        return
                await asyncio.sleep(0.3)
        raise AssertionError(f"{self.url} never became ready:\n{self.log_tail()}")


@contextlib.asynccontextmanager
async def forge_processes(workdir: Path) -> AsyncIterator[Callable[..., Awaitable[ForgeProcess]]]:
    """Start `forge` processes with `await spawn(args, env, name=…)`; every one is stopped on exit."""
    started: list[ForgeProcess] = []

    async def spawn(
        args: list[str], env: Mapping[str, str], *, name: str, port: int | None = None, ready: bool = True
    ) -> ForgeProcess:
        port = port or free_port()
        full = [*args, "--port", str(port)]
        if args[0] == "worker":
            full += ["--host", "127.0.0.1"]
        proc = ForgeProcess(full, dict(env), workdir / f"{name}.log", port)
        proc.start()
        started.append(proc)
        if ready:
            await proc.wait_ready()
        return proc

    try:
        yield spawn
    finally:
        await asyncio.gather(*(proc.stop() for proc in reversed(started)))


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, timeout: float, interval: float = 0.3
) -> T:
    """Call `probe` until `done(result)`; return the last result (the caller asserts on it)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if done(result) or time.monotonic() >= deadline:
            return result
        await asyncio.sleep(interval)


def jpeg_with_exif(index: int, size: tuple[int, int] = (48, 32)) -> bytes:
    """A small, distinct JPEG carrying camera EXIF (so ghost has metadata to find)."""
    image = Image.new("RGB", size, (index * 37 % 256, index * 91 % 256, 120))
    exif = Image.Exif()
    exif[0x010F] = "Forge Fault Cameras"  # Make
    exif[0x0110] = f"Model {index}"  # Model
    exif[0x0131] = "fault-tests"  # Software
    exif[0x0132] = "2024:05:06 07:08:09"  # DateTime
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), quality=80)
    return out.getvalue()


def assert_envelope(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response has `status` and the platform's error envelope (and `code`, when given)."""
    assert response.status_code == status, f"{response.status_code}: {response.text[:500]}"
    body: dict[str, Any] = response.json()
    assert body.get("success") is False, body
    assert isinstance(body.get("error"), str), body
    assert body["error"], body
    assert isinstance(body.get("error_code"), str), body
    if code is not None:
        assert body["error_code"] == code, body
    return body


@contextlib.asynccontextmanager
async def pg(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn: asyncpg.Connection = await asyncpg.connect(dsn, timeout=10)
    try:
        yield conn
    finally:
        await conn.close()


async def scalar(dsn: str, query: str, *args: Any) -> Any:
    async with pg(dsn) as conn:
        return await conn.fetchval(query, *args)

"""`forge` as operators run it: real processes, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from forge.localinfra import free_port
from tests.infra import TestInfra

FORGE = [sys.executable, "-m", "forge"]


def run_env(infra: TestInfra, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "NATS_URL"}}
    env.update(infra.env(**extra))
    return env


def test_missing_setting_stops_start_up_with_its_name(infra: TestInfra) -> None:
    env = run_env(infra)
    del env["DATABASE_URL"]
    result = subprocess.run([*FORGE, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "DATABASE_URL is required" in result.stderr
    env = run_env(infra, PORT="eighty")
    result = subprocess.run([*FORGE, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "PORT is invalid" in result.stderr


def test_unknown_service_is_refused(infra: TestInfra) -> None:
    result = subprocess.run(
        [*FORGE, "serve", "--services", "upload,nope"], env=run_env(infra), capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "nope" in result.stderr


def test_migrate_then_serve_all_then_sigterm(infra: TestInfra, tmp_path: Path) -> None:
    env = run_env(infra, LOG_LEVEL="INFO")
    migrated = subprocess.run([*FORGE, "migrate"], env=env, capture_output=True, text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    assert "auth:" in migrated.stdout

    port = free_port()
    proc = subprocess.Popen(
        [*FORGE, "serve", "--services", "all", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=5)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert ready is not None
        assert ready.status_code == 200, ready.text
        checks = ready.json()["data"]["checks"]
        for service in ("auth", "upload", "ghost", "sonic", "audit"):
            assert checks[f"{service}.database"] == "ok"
            assert checks[f"{service}.nats"] == "ok"
            assert checks[f"{service}.storage"] == "ok"
        missing = httpx.get(f"http://127.0.0.1:{port}/definitely/missing", headers={"X-Request-ID": "trace-1"})
        assert missing.status_code == 404
        assert missing.json()["success"] is False
        assert missing.headers["x-request-id"] == "trace-1"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.stdout.read().decode() if proc.stdout else ""
    assert "platform stopped" in output


def test_dead_letters_command_lists_json_lines(infra: TestInfra) -> None:
    env = run_env(infra)
    result = subprocess.run(
        [*FORGE, "dead-letters", "--service", "upload"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr

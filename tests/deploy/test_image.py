"""The Dockerfile, checked statically (no Docker engine here): one image per service from a
build argument, only that service's extra, non-root, read-only-root friendly, a Python health check."""

from __future__ import annotations

import functools
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field

import pytest

from forge.registry import SERVICE_NAMES
from tests.deploy.support import REPO, parse_forge_command

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"

# Debian packages each service calls at run time (the deployment issue's list).
RUNTIME_PACKAGES = {
    "auth": set(),
    "upload": {"libmagic1"},
    "ghost": {"libmagic1"},
    "sonic": set(),
    "audit": {"git", "libpango-1.0-0", "libpangoft2-1.0-0"},
}
TEST_ONLY_PACKAGES = {"libimage-exiftool-perl", "libarchive-zip-perl", "espeak-ng", "ffmpeg", "mat2", "wrk"}


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


@functools.cache
def dockerfile() -> tuple[list[tuple[str, str]], list[Stage]]:
    """(instructions before the first FROM, stages): continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        line = (pending + stripped).strip()
        pending = ""
        if line:
            logical.append(line)
    preamble: list[tuple[str, str]] = []
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        elif stages:
            stages[-1].instructions.append((keyword, args.strip()))
        else:
            preamble.append((keyword, args.strip()))
    return preamble, stages


def stage(name: str) -> Stage:
    for candidate in dockerfile()[1]:
        if candidate.name == name:
            return candidate
    raise AssertionError(f"no stage {name!r} in the Dockerfile")


def lineage(final: Stage) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    chain = [final]
    names = {s.name: s for s in dockerfile()[1] if s.name}
    while chain[-1].base in names:
        chain.append(names[chain[-1].base])
    return chain


def final_stage_for(service: str) -> Stage:
    final = dockerfile()[1][-1]
    base = final.base.replace("${SERVICE}", service).replace("$SERVICE", service)
    return stage(base) if base != final.base else final


def effective(service: str, keyword: str) -> str | None:
    for item in lineage(final_stage_for(service)):
        values = item.all(keyword)
        if values:
            return values[-1]
    return None


def exec_form(value: str) -> list[str]:
    parsed = json.loads(value)
    assert isinstance(parsed, list), f"not exec form: {value}"
    assert all(isinstance(p, str) for p in parsed), f"not exec form: {value}"
    return [str(p) for p in parsed]


def all_runs() -> list[str]:
    return [args for s in dockerfile()[1] for args in s.all("RUN")]


def test_service_build_argument_selects_the_extra() -> None:
    preamble, _ = dockerfile()
    assert ("ARG", "SERVICE") in preamble, "a global `ARG SERVICE` (no default) so the last FROM can use it"
    extras = set(
        tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    )
    assert set(SERVICE_NAMES) <= extras, "every service needs its extra in pyproject.toml"
    syncs = [run for run in all_runs() if "uv sync" in run]
    assert syncs, "dependencies come from `uv sync`"
    for run in syncs:
        assert "--frozen" in run, f"uv sync must be --frozen: {run}"
        assert "--no-dev" in run, f"uv sync must be --no-dev: {run}"
        assert re.search(r"--extra\s+\"?\$\{?SERVICE\}?\"?", run), f"uv sync must install --extra $SERVICE: {run}"
        assert "--all-extras" not in run
    assert "SERVICE" in stage("builder").all("ARG")
    assert "SERVICE" in stage("runtime").all("ARG")


def test_uv_comes_from_pypi_not_a_download() -> None:
    runs = all_runs()
    assert any(re.search(r"pip install .*[\"']?uv==", run) for run in runs), "install uv with pip (pinned)"
    for run in runs:
        assert not re.search(r"\b(curl|wget)\b", run), f"no downloads in the build: {run}"
    copies = [a for s in dockerfile()[1] for a in s.all("COPY")]
    assert not any("ghcr.io/astral-sh/uv" in c for c in copies)


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_image_of_each_service(service: str) -> None:
    """USER non-root, ENTRYPOINT forge, CMD serving this service (valid for the CLI), health check."""
    user = effective(service, "USER")
    assert user is not None, "the image must set USER"
    uid = user.split(":")[0]
    assert uid not in {"0", "root"}, f"runs as {user}"
    assert uid == "10001"
    assert exec_form(effective(service, "ENTRYPOINT") or "null") == ["forge"]
    cmd = exec_form(effective(service, "CMD") or "null")
    assert cmd == ["serve", "--services", service]
    parsed = parse_forge_command(cmd)
    assert parsed.services == (service,)
    healthcheck = effective(service, "HEALTHCHECK")
    assert healthcheck is not None, "HEALTHCHECK is required"
    check = healthcheck.split("CMD", 1)[1].strip()
    argv = exec_form(check) if check.startswith("[") else shlex.split(check)
    assert argv[0] in {"python", "python3"}, "the health check uses python (no curl in the image)"
    assert "/health/live" in " ".join(argv)


def test_runtime_environment_suits_a_read_only_root() -> None:
    runtime = stage("runtime")
    env: dict[str, str] = {}
    for args in runtime.all("ENV"):
        for item in shlex.split(args):
            key, _, value = item.partition("=")
            env[key] = value
    for key in ("HOME", "TMPDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "HF_HOME"):
        assert env.get(key, "").startswith("/tmp"), f"{key} must point into /tmp (the only writable place)"
    assert env.get("STORAGE_PATH", "").startswith("/data/")
    assert env.get("HOST") == "0.0.0.0"
    assert env.get("HF_HUB_OFFLINE") == "1", "sonic's model ships in the image"
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"
    assert any("/data" in run and "10001" in run for run in runtime.all("RUN")), "/data belongs to the app user"


def runtime_packages() -> dict[str, set[str]]:
    """Packages per service from the runtime stage's `case` arms: `a|b) packages="x y" ;;`."""
    found: dict[str, set[str]] = {}
    for run in stage("runtime").all("RUN"):
        for names, packages in re.findall(r"([a-z|]+)\)\s*packages=\"([^\"]*)\"", run):
            for name in names.split("|"):
                found[name] = set(packages.split())
    return found


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_runtime_packages(service: str) -> None:
    packages = runtime_packages()
    assert service in packages, f"the runtime stage installs nothing declared for {service}"
    assert RUNTIME_PACKAGES[service] <= packages[service]
    assert not packages[service] & TEST_ONLY_PACKAGES, "test-only tools stay out of the image"
    if not RUNTIME_PACKAGES[service]:
        assert not packages[service]


def test_every_service_has_its_stage() -> None:
    final = dockerfile()[1][-1]
    assert final.base in {"service-${SERVICE}", "service-$SERVICE"}, "the last stage is picked by SERVICE"
    for service in SERVICE_NAMES:
        assert final_stage_for(service).name == f"service-{service}"


def test_build_context_holds_what_the_image_copies() -> None:
    rules = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()]
    rules = [r for r in rules if r and not r.startswith("#")]
    assert rules[0] == "*", ".dockerignore is an allow-list (starts with *)"
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    assert not allowed & {".env", "tests", ".venv", ".data", ".git", "k8s", "deploy", "bench"}
    for s in dockerfile()[1]:
        for args in s.all("COPY"):
            if args.startswith("--from"):
                continue
            sources = [a for a in shlex.split(args) if not a.startswith("--")][:-1]
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: missing"
                assert source.rstrip("/") in allowed, f"COPY {source}: excluded by .dockerignore"

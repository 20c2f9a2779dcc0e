"""`forge`: one command for every shape of the platform.

forge serve --services all           # every service's HTTP API (+ workers) on one port
forge serve --services upload        # one service per Deployment
forge worker sonic                   # job consumers of a service, with health on --port
forge migrate --services all         # apply migrations and exit (a Kubernetes Job)
forge dev                            # local NATS/PostgreSQL/storage, then `serve --services all`
forge dead-letters --service upload  # what the consumers gave up on
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import msgspec
import uvicorn

from forge.host import PlatformHost, migrate
from forge.registry import SERVICE_NAMES, UnknownService, load_service, parse_services
from libs.config import PlatformSettings
from libs.database import Database
from libs.events import list_dead_letters
from libs.logging import configure_logging
from libs.settings import SettingsError, load_settings


def _settings(**overrides: object) -> PlatformSettings:
    try:
        settings = load_settings(PlatformSettings)
    except SettingsError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    if overrides:
        settings = msgspec.structs.replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    configure_logging(level=settings.log_level, json=settings.json_logs)
    return settings


def _services(value: str) -> list[str]:
    try:
        return parse_services(value)
    except UnknownService as exc:
        raise click.BadParameter(str(exc)) from None


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown, so the process would
        # die by the signal; after a clean drain we exit 0 instead, as orchestrators expect.
        with super().capture_signals():
            yield
            self._captured_signals.clear()


def _run_server(host: PlatformHost, bind: str, port: int) -> None:
    config = uvicorn.Config(
        host.create_app(),
        host=bind,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=max(1, int(host.shutdown_grace / 2)),
        proxy_headers=True,
        server_header=False,
        ws_max_size=1 << 20,
    )
    server = _Server(config)
    server.run()
    if not server.started:
        sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Forge platform: auth, upload, ghost, sonic and audit services."""


@main.command()
@click.option("--services", "services", default="all", show_default=True, help="'all' or a comma list")
@click.option("--host", "bind", default=None, help="bind address (HOST)")
@click.option("--port", type=int, default=None, help="port (PORT)")
@click.option(
    "--workers/--no-workers",
    default=None,
    help="also run job workers in this process (default: only with --services all)",
)
def serve(services: str, bind: str | None, port: int | None, workers: bool | None) -> None:
    """Serve the HTTP APIs of the chosen services in one process."""
    names = _services(services)
    settings = _settings(host=bind, port=port)
    with_workers = workers if workers is not None else set(names) == set(SERVICE_NAMES)
    host = PlatformHost(settings, names, with_workers=with_workers)
    _run_server(host, settings.host, settings.port)


@main.command()
@click.argument("service", type=click.Choice(SERVICE_NAMES))
@click.option("--host", "bind", default="0.0.0.0", show_default=True, help="bind address of the health port")  # noqa: S104
@click.option("--port", type=int, default=8081, show_default=True, help="health and metrics port")
def worker(service: str, bind: str, port: int) -> None:
    """Run a service's job workers (health, readiness and metrics on --port)."""
    settings = _settings()
    spec = load_service(service)
    if not spec.has_workers:
        raise click.BadParameter(f"service {service!r} has no workers")
    host = PlatformHost(settings, [service], with_routes=False, with_workers=True)
    _run_server(host, bind, port)


@main.command("migrate")
@click.option("--services", "services", default="all", show_default=True)
def migrate_command(services: str) -> None:
    """Apply pending migrations of the chosen services and exit."""
    settings = _settings()
    specs = [load_service(name) for name in _services(services)]
    applied = asyncio.run(migrate(settings, specs))
    for name, versions in applied.items():
        click.echo(f"{name}: {len(versions)} migration(s) applied" + (f" ({', '.join(versions)})" if versions else ""))


@main.command("dead-letters")
@click.option("--service", type=click.Choice(SERVICE_NAMES), required=True)
@click.option("--consumer", default=None, help="only this durable consumer")
@click.option("--limit", type=int, default=50, show_default=True)
def dead_letters(service: str, consumer: str | None, limit: int) -> None:
    """List the messages a service's consumers gave up on (newest first, JSON lines)."""
    settings = _settings()

    async def run() -> None:
        db = Database(settings.database_url, service, min_size=1, max_size=1)
        await db.connect()
        try:
            for letter in await list_dead_letters(db, consumer=consumer, limit=limit):
                click.echo(msgspec.json.encode(letter).decode())
        finally:
            await db.close()

    asyncio.run(run())


@main.command()
@click.option("--port", type=int, default=None, help="port (PORT, default 8000)")
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path(".data"), show_default=True)
def dev(port: int | None, data_dir: Path) -> None:
    """Start what is missing (NATS, PostgreSQL, storage) under --data-dir, then serve everything."""
    from forge.localinfra import LocalInfra

    configure_logging(level=os.environ.get("LOG_LEVEL", "INFO"))
    infra = LocalInfra(data_dir.resolve())
    try:
        os.environ.update(asyncio.run(infra.start()))
        settings = _settings(port=port)
        host = PlatformHost(settings, list(SERVICE_NAMES), with_workers=True)
        click.echo(f"Forge platform on http://{settings.host}:{settings.port} (API docs at /schema)", err=True)
        _run_server(host, settings.host, settings.port)
    finally:
        infra.stop()


@main.command("services")
def list_services() -> None:
    """List the services this image can run."""
    for name in SERVICE_NAMES:
        spec = load_service(name)
        click.echo(f"{name:8} {'(workers) ' if spec.has_workers else ''}{spec.description}")


def _register_service_commands() -> None:
    for name in SERVICE_NAMES:
        try:
            spec = load_service(name)
        except ImportError:
            continue
        if spec.cli is not None:
            main.add_command(spec.cli, name)


_register_service_commands()

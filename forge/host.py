"""Compose services into one Litestar process.

Each service gets its own database pool (its own schema), its own NATS connection and its own
bucket, exactly as when it runs alone, so `serve --services all` exercises what is deployed:
services in one process still reach each other only over NATS.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar

from forge import __version__
from forge.registry import load_service
from forge.spec import Component, ServiceContext, ServiceSpec
from libs.config import PlatformSettings
from libs.database import Database, apply_migrations, load_migrations
from libs.database.migrations import Migration
from libs.events import NatsConnection, OutboxRelay, ensure_stream
from libs.http import ReadinessChecks, create_app
from libs.identity import Authenticator
from libs.identity.litestar import AUTHENTICATOR_STATE_KEY
from libs.logging import get_logger
from libs.storage import open_object_store

log = get_logger(__name__)
LIBS_MIGRATIONS = Path(__file__).resolve().parent.parent / "libs" / "events" / "migrations"


def migrations_for(spec: ServiceSpec) -> list[Migration]:
    found = load_migrations(LIBS_MIGRATIONS, "libs")
    if spec.migrations is not None:
        found += load_migrations(spec.migrations, spec.name)
    return found


async def migrate(settings: PlatformSettings, specs: Sequence[ServiceSpec]) -> dict[str, list[str]]:
    return {spec.name: await apply_migrations(settings.database_url, spec.name, migrations_for(spec)) for spec in specs}


class _Started:
    def __init__(self) -> None:
        self.components: list[Component] = []
        self.relays: list[OutboxRelay] = []
        self.connections: list[NatsConnection] = []
        self.databases: list[Database] = []


class PlatformHost:
    """Opens, starts and stops the selected services around the Litestar app's lifespan."""

    def __init__(
        self,
        settings: PlatformSettings,
        service_names: Sequence[str],
        *,
        with_routes: bool = True,
        with_workers: bool = False,
    ) -> None:
        self.settings = settings
        self.specs = [load_service(name) for name in service_names]
        self.with_routes = with_routes
        self.with_workers = with_workers
        self.shutdown_grace = settings.shutdown_grace_seconds
        self.readiness = ReadinessChecks()

    def create_app(self) -> Litestar:
        routes = [r for spec in self.specs for r in spec.routes()] if self.with_routes else []
        names = ", ".join(spec.name for spec in self.specs)
        return create_app(
            title=f"Forge platform ({names})",
            version=__version__,
            description="Services: " + "; ".join(f"{s.name}: {s.description}" for s in self.specs),
            route_handlers=routes,
            lifespan=[self.lifespan],
            readiness=self.readiness,
            debug=self.settings.debug,
            max_body_size=self.settings.max_json_body_bytes,
        )

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        started = _Started()
        identity = NatsConnection(self.settings.nats_url, "forge-identity")
        try:
            await identity.connect(timeout=self.settings.nats_connect_timeout)
            started.connections.append(identity)
            authenticator = Authenticator(
                identity,
                issuer=self.settings.jwt_issuer,
                audience=self.settings.jwt_audience,
                api_token_ttl=self.settings.api_token_cache_seconds,
            )
            await authenticator.start()
            app.state[AUTHENTICATOR_STATE_KEY] = authenticator
            for spec in self.specs:
                await self._start_service(app, spec, authenticator, started)
            log.info(
                "platform started",
                services=[s.name for s in self.specs],
                workers=self.with_workers,
                routes=self.with_routes,
            )
            yield
        finally:
            app.state["shutting_down"] = True
            await self._stop(started, app.state.get(AUTHENTICATOR_STATE_KEY))

    async def _start_service(
        self, app: Litestar, spec: ServiceSpec, authenticator: Authenticator, started: _Started
    ) -> None:
        settings = self.settings
        await apply_migrations(settings.database_url, spec.name, migrations_for(spec))
        db = Database(
            settings.database_url,
            spec.name,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            command_timeout=settings.db_command_timeout,
        )
        await db.connect()
        started.databases.append(db)
        nats = NatsConnection(settings.nats_url, f"forge-{spec.name}")
        await nats.connect(timeout=settings.nats_connect_timeout)
        started.connections.append(nats)
        for stream in spec.streams:
            await ensure_stream(nats.js, stream, replicas=settings.nats_stream_replicas)
        store = open_object_store(settings, bucket=f"{settings.s3_bucket}-{spec.name}")
        await store.ensure_ready()
        relay = OutboxRelay(db, nats)
        relay.start()
        started.relays.append(relay)
        ctx = ServiceContext(
            name=spec.name,
            settings=settings,
            db=db,
            nats=nats,
            store=store,
            authenticator=authenticator,
            relay=relay,
        )
        runtime = await spec.build(ctx)
        app.state[spec.name] = runtime.state
        parts = list(runtime.components) + (list(runtime.workers) if self.with_workers else [])
        for component in parts:
            await component.start()
            started.components.append(component)
        self.readiness.add(f"{spec.name}.database", db.check)
        self.readiness.add(f"{spec.name}.nats", nats.check)
        self.readiness.add(f"{spec.name}.storage", store.check)
        for name, check in runtime.checks.items():
            self.readiness.add(f"{spec.name}.{name}", check)

    async def _stop(self, started: _Started, authenticator: Authenticator | None) -> None:
        # Reverse order: consumers and workers first (they hand unfinished messages back),
        # then relays, then connections and pools.
        for component in reversed(started.components):
            began = time.perf_counter()
            try:
                await asyncio.wait_for(component.stop(), timeout=self.shutdown_grace / 2)
            except Exception:
                log.exception("component did not stop cleanly", component=type(component).__name__)
            log.debug(
                "component stopped", component=type(component).__name__, seconds=round(time.perf_counter() - began, 3)
            )
        if authenticator is not None:
            await authenticator.stop()
        for relay in started.relays:
            await relay.stop()
        for conn in reversed(started.connections):
            with contextlib.suppress(Exception):
                await conn.close()
        for db in started.databases:
            with contextlib.suppress(Exception):
                await db.close()
        log.info("platform stopped")

"""What a service declares to the host: its schema, streams, routes, and how to build its runtime."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import click
from litestar.types import ControllerRouterHandler

from libs.config import PlatformSettings
from libs.database import Database
from libs.events import NatsConnection, OutboxRelay, StreamSpec
from libs.identity import Authenticator
from libs.storage import ObjectStore


class Component(Protocol):
    """Something that runs in the background of a service: a consumer, a responder, a worker."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(slots=True)
class ServiceContext:
    """The resources the host opens for one service; a service touches nothing else."""

    name: str
    settings: PlatformSettings
    db: Database
    nats: NatsConnection
    store: ObjectStore
    authenticator: Authenticator
    relay: OutboxRelay

    @property
    def worker_grace(self) -> float:
        """How long a stopping worker may let an in-flight job run before handing it back."""
        return max(1.0, self.settings.shutdown_grace_seconds / 2 - 2.0)


@dataclass(slots=True)
class ServiceRuntime:
    """What a built service hands back: the object its routes use, and its background parts."""

    state: Any
    components: list[Component] = field(default_factory=list)
    workers: list[Component] = field(default_factory=list)
    checks: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    description: str
    build: Callable[[ServiceContext], Awaitable[ServiceRuntime]]
    routes: Callable[[], Sequence[ControllerRouterHandler]]
    migrations: Path | None = None
    streams: tuple[StreamSpec, ...] = ()
    has_workers: bool = False
    cli: click.Group | None = None
    max_body_size: int | None = None

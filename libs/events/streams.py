"""JetStream stream definitions: one stream per owning service, plus work-queue streams for jobs."""

from __future__ import annotations

from dataclasses import dataclass, field

from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    work_queue: bool = False
    max_age_seconds: float = 7 * 24 * 3600
    duplicate_window_seconds: float = 120.0
    description: str = ""
    replicas: int = field(default=1)

    def config(self, replicas: int | None = None) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            subjects=list(self.subjects),
            description=self.description or None,
            retention=RetentionPolicy.WORK_QUEUE if self.work_queue else RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=self.max_age_seconds,
            duplicate_window=self.duplicate_window_seconds,
            num_replicas=replicas or self.replicas,
        )


async def ensure_stream(
    js: JetStreamContext, spec: StreamSpec, *, replicas: int | None = None, owner: bool = True
) -> None:
    """Create the stream, or (for its owning service) bring its subjects and limits up to date.

    A service that only consumes another's stream passes `owner=False`: it creates the stream if
    the owner has not started yet, but never changes the owner's configuration.
    """
    try:
        await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(spec.config(replicas))
        return
    if owner:
        await js.update_stream(spec.config(replicas))

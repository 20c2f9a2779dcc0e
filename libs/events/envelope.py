"""The one envelope every event travels in (DESIGN.md "Events")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Generic, TypeVar

import msgspec

from libs.logging import current_request_id

T = TypeVar("T")


class Envelope(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """`id` is also the `Nats-Msg-Id`, so JetStream drops a re-published duplicate."""

    id: uuid.UUID
    type: str
    occurred_at: datetime
    actor: str | None = None
    correlation_id: str | None = None
    data: T


def new_event(type_: str, data: T, *, actor: str | None = None, correlation_id: str | None = None) -> Envelope[T]:
    """An envelope stamped now, carrying the current request id unless one is given."""
    return Envelope(
        id=uuid.uuid4(),
        type=type_,
        occurred_at=datetime.now(UTC),
        actor=actor,
        correlation_id=correlation_id or current_request_id(),
        data=data,
    )

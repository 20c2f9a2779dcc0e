"""The success envelope of DESIGN.md: `{"success": true, "data": …, "message"?: …}`."""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

T = TypeVar("T")


class Success(msgspec.Struct, Generic[T], kw_only=True):
    success: bool = True
    message: str | UnsetType = UNSET
    data: T


def ok(data: T, message: str | None = None) -> Success[T]:
    return Success(data=data, message=message if message is not None else UNSET)


class Page(msgspec.Struct, kw_only=True):
    """Offset pagination block used by list endpoints."""

    count: int
    total_count: int
    skip: int
    limit: int
    has_more: bool

    @classmethod
    def of(cls, *, count: int, total: int, skip: int, limit: int) -> Page:
        return cls(count=count, total_count=total, skip=skip, limit=limit, has_more=skip + count < total)

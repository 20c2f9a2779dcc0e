"""Typed settings read from environment variables into frozen msgspec Structs.

Each field `foo_bar` of a settings Struct is read from `<PREFIX>FOO_BAR`. Values are converted
to the field's type (ints, floats, bools, comma-separated lists); a missing required variable
or a malformed value raises `SettingsError` naming the variable, so start-up stops with a
message an operator can act on.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

S = TypeVar("S", bound=msgspec.Struct)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the environment variable."""


def _is_sequence(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    return origin in (list, tuple, frozenset, set)


def _coerce(raw: str, tp: Any) -> Any:
    """Turn an environment string into something `msgspec.convert` can check against `tp`."""
    if tp is bool:
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"expected a boolean (true/false), got {raw!r}")
    if _is_sequence(tp):
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw


def _unwrap_optional(tp: Any) -> Any:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, getattr(__import__("types"), "UnionType", None)) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return tp


def load_settings(cls: type[S], *, prefix: str = "", env: Mapping[str, str] | None = None) -> S:
    """Build `cls` from environment variables `<prefix><FIELD_NAME>`."""
    source = os.environ if env is None else env
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in msgspec.structs.fields(cls):
        var = f"{prefix}{field.name}".upper()
        tp = _unwrap_optional(hints[field.name])
        raw = source.get(var)
        if raw is None or (raw == "" and tp is not str):
            if field.required:
                raise SettingsError(f"{var} is required but not set")
            continue
        try:
            coerced = _coerce(raw, tp)
            values[field.name] = msgspec.convert(coerced, hints[field.name], strict=False)
        except (ValueError, msgspec.ValidationError) as exc:
            raise SettingsError(f"{var} is invalid: {exc}") from None
    try:
        settings = cls(**values)
    except (TypeError, ValueError, msgspec.ValidationError) as exc:
        raise SettingsError(str(exc)) from None
    validate = getattr(settings, "validate", None)
    if callable(validate):
        validate()
    return settings

"""Conversion of parsed metadata values into bounded, JSON-safe Python values.

Metadata is attacker-controlled, so every value is bounded: long strings are cut, long sequences
are shortened and binary blobs are summarised as ``"<binary N bytes>"`` rather than returned.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

MAX_STRING_CHARS = 4_096
MAX_ITEMS = 256
MAX_DEPTH = 8
MAX_TEXT_BLOB_BYTES = 1_024


def binary_summary(size: int) -> str:
    return f"<binary {size} bytes>"


def clean_text(text: str) -> str:
    text = text.rstrip("\x00").replace("\x00", " ")
    if len(text) > MAX_STRING_CHARS:
        return text[:MAX_STRING_CHARS] + f"… <truncated, {len(text)} chars>"
    return text


def _looks_like_text(text: str) -> bool:
    return all(ch.isprintable() or ch in "\t\r\n" for ch in text)


def bytes_value(data: bytes) -> str:
    """Decode short textual byte strings; summarise everything else."""
    stripped = data.rstrip(b"\x00")
    if len(stripped) <= MAX_TEXT_BLOB_BYTES:
        try:
            text = stripped.decode("utf-8")
        except UnicodeDecodeError:
            return binary_summary(len(data))
        if _looks_like_text(text):
            return clean_text(text)
    return binary_summary(len(data))


def json_safe(value: Any, depth: int = 0) -> Any:
    """Convert ``value`` to str/int/float/bool/None, lists and string-keyed dicts."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes_value(bytes(value))
    if isinstance(value, Fraction):
        return float(value) if value.denominator else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if depth >= MAX_DEPTH:
        return "<nested too deeply>"
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for index, (key, item) in enumerate(value.items()):
            if index >= MAX_ITEMS:
                result["…"] = f"<{len(value) - MAX_ITEMS} more entries>"
                break
            result[clean_text(str(key))] = json_safe(item, depth + 1)
        return result
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        converted = [json_safe(item, depth + 1) for item in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            converted.append(f"<{len(items) - MAX_ITEMS} more items>")
        return converted
    numerator = getattr(value, "numerator", None)
    denominator = getattr(value, "denominator", None)
    if isinstance(numerator, int | float) and isinstance(denominator, int | float):
        return json_safe(numerator / denominator) if denominator else None
    return clean_text(str(value))

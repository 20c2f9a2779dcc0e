"""Errors raised by the ghost domain core.

Every error carries a stable ``code`` so callers can map it to a transport status without
matching on message text. Messages are safe to show to the uploader: they never contain
file contents, only sizes, limits and format names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar


class GhostError(Exception):
    """Base class for every error the ghost core raises on purpose."""

    code: ClassVar[str] = "ghost_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedFormat(GhostError):
    """The content is not one of the formats ghost can process."""

    code: ClassVar[str] = "unsupported_format"

    def __init__(self, detected: str, supported: Iterable[str], detail: str = "") -> None:
        self.detected = detected
        self.supported = list(supported)
        message = f"unsupported format {detected!r}"
        if detail:
            message += f" ({detail})"
        message += "; supported formats: " + ", ".join(self.supported)
        super().__init__(message)


class EncryptedFile(UnsupportedFormat):
    """The file is password protected, so its metadata cannot be read or removed."""

    code: ClassVar[str] = "encrypted_file"


class CorruptFile(GhostError):
    """The content claims a supported format but is malformed or truncated."""

    code: ClassVar[str] = "corrupt_file"


class InputTooLarge(GhostError):
    """The input, or what it would expand to (a decompression bomb), exceeds a configured limit."""

    code: ClassVar[str] = "input_too_large"

    def __init__(self, what: str, actual: int | float | None, limit: int | float) -> None:
        self.what = what
        self.actual = actual
        self.limit = limit
        if actual is None:
            super().__init__(f"{what} exceeds the limit of {limit:,}")
        else:
            super().__init__(f"{what} is {actual:,} which exceeds the limit of {limit:,}")

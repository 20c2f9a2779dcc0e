"""What a shred run removed and deliberately kept."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec


class ShredReport(msgspec.Struct, frozen=True, kw_only=True):
    """Outcome of :func:`services.ghost.shred.shred_file`.

    ``removed`` lists human-readable items such as ``"EXIF:GPSLatitude"``, ``"XMP"`` or
    ``"PDF:/Author"``; ``kept`` lists what was preserved on purpose (for example
    ``"EXIF:Orientation"``) so the output can be explained to the user.
    """

    kind: str
    removed: list[str]
    kept: list[str]
    bytes_before: int
    bytes_after: int


@dataclass(slots=True)
class Findings:
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def remove(self, *labels: str) -> None:
        for label in labels:
            if label not in self.removed:
                self.removed.append(label)

    def keep(self, *labels: str) -> None:
        for label in labels:
            if label not in self.kept:
                self.kept.append(label)

    def merge(self, other: Findings, prefix: str = "") -> None:
        self.remove(*(prefix + label for label in other.removed))
        self.keep(*(prefix + label for label in other.kept))


@dataclass(frozen=True, slots=True)
class Cleaned:
    """A cleaned in-memory file and what cleaning it involved."""

    data: bytes
    findings: Findings

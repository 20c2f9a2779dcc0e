"""Licenses and copyrights through ScanCode's Python API, plus our copyleft classification.

Cost, measured on this code base's 2-core workers (ScanCode 32.5): loading the license index takes
~8 s and ~1.4 GB RSS, once per process (`warm_up`). After that, license detection costs ~5-15 ms
per typical source file and copyright detection ~10-25 ms. What is scanned:

* licenses: every text file up to `ScanLimits.max_scan_file_bytes` (binaries and larger files are
  skipped). A keyword pre-filter was measured and rejected: ~5 % of ScanCode's rules (e.g.
  "GNUGPLv3", "Attribution-ShareAlike 2.0") contain none of the obvious license words.
* copyrights: the same files, but only those containing a copyright marker (``copyright``,
  ``(c)``, ``©``, ``copr`` and their escaped forms). A copyright statement cannot be recognised
  without one of these, and the check costs microseconds against ~20 ms of parsing.
"""

from __future__ import annotations

import importlib
import re
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Final, NamedTuple

from services.audit.scanner.errors import AuditCancelled
from services.audit.scanner.limits import ScanLimits
from services.audit.scanner.model import (
    CopyrightStatement,
    FileEntry,
    LicenseCategory,
    LicenseDetection,
    Licenses,
    LicenseTotal,
)

# Imported lazily by ScanCode on first use; importing them up front keeps that cost in warm-up.
_SCANCODE_MODULES: Final = ("scancode.api", "cluecode.copyrights", "licensedcode.detection", "packagedcode.utils")
_index_lock = threading.Lock()
_index_loaded = False

_COPYRIGHT_MARKER: Final = re.compile(
    rb"copyright|copr\b|\(c\)|\xa9|&copy|&#169|&#xa9|\\u00a9|\\xa9|\\251", re.IGNORECASE
)

# ScanCode license categories, mapped onto ours.
_CATEGORY_BY_SCANCODE: Final[dict[str, LicenseCategory]] = {
    "Permissive": "permissive",
    "Public Domain": "public-domain",
    "Copyleft Limited": "weak-copyleft",
    "Copyleft": "copyleft",
    "Commercial": "restricted",
    "Proprietary Free": "restricted",
    "Source-available": "restricted",
    "Free Restricted": "restricted",
    "CLA": "other",
    "Patent License": "other",
    "Unstated License": "unknown",
}

# How much an expression restricts the user; AND takes the maximum, OR (a choice) the minimum.
_RANK: Final[dict[LicenseCategory, int]] = {
    "public-domain": 0,
    "permissive": 1,
    "other": 2,
    "unknown": 3,
    "weak-copyleft": 4,
    "copyleft": 5,
    "restricted": 6,
}
COPYLEFT_CATEGORIES: Final = frozenset({"copyleft", "weak-copyleft"})

_DECLARED_NAMES: Final = re.compile(r"^(licen[cs]e|copying|notice|unlicense|copyright)([-._].*)?$", re.IGNORECASE)
_MAX_TOTAL_PATHS: Final = 50


class LicenseScan(NamedTuple):
    detections: list[LicenseDetection]
    copyrights: list[CopyrightStatement]
    license_files: int
    copyright_files: int
    failed: list[str]


def warm_up() -> None:
    """Load ScanCode's license index and license database now (thread-safe, once per process)."""
    global _index_loaded
    with _index_lock:
        if _index_loaded:
            return
        with warnings.catch_warnings():
            # Import-time noise from ScanCode's dependencies (pyparsing deprecations in packvers).
            warnings.simplefilter("ignore")
            for module in _SCANCODE_MODULES:
                importlib.import_module(module)
            from licensedcode.cache import get_cache

            get_cache()
        _index_loaded = True


def scancode_version() -> str:
    try:
        return metadata.version("scancode-toolkit-mini")
    except metadata.PackageNotFoundError:
        return metadata.version("scancode-toolkit")


def has_copyright_marker(data: bytes) -> bool:
    return _COPYRIGHT_MARKER.search(data) is not None


def detect_file_licenses(location: Path, rel: str, *, timeout_s: float) -> list[LicenseDetection]:
    """ScanCode license detections for one file, classified."""
    from scancode.api import get_licenses

    result: dict[str, Any] = get_licenses(str(location), deadline=time.time() + timeout_s)
    detections = []
    for item in result.get("license_detections") or []:
        expression = item.get("license_expression")
        spdx = item.get("license_expression_spdx") or expression
        matches = item.get("matches") or []
        if not expression or not matches:
            continue
        category = classify_expression(expression)
        detections.append(
            LicenseDetection(
                path=rel,
                license_expression_spdx=spdx,
                license_expression=expression,
                category=category,
                copyleft=category in COPYLEFT_CATEGORIES,
                score=float(min(m.get("score", 0.0) for m in matches)),
                start_line=int(min(m.get("start_line", 0) for m in matches)),
                end_line=int(max(m.get("end_line", 0) for m in matches)),
                rule=str(matches[0].get("rule_identifier") or ""),
            )
        )
    return detections


def detect_file_copyrights(location: Path, rel: str, *, timeout_s: float) -> list[CopyrightStatement]:
    """ScanCode copyright statements for one file, each with the holders found on its lines."""
    from scancode.api import get_copyrights

    result: dict[str, Any] = get_copyrights(str(location), deadline=time.time() + timeout_s)
    holders = result.get("holders") or []
    statements = []
    for item in result.get("copyrights") or []:
        start, end = int(item.get("start_line", 0)), int(item.get("end_line", 0))
        names = [
            str(h["holder"])
            for h in holders
            if h.get("holder") and h.get("start_line", 0) <= end and h.get("end_line", 0) >= start
        ]
        statements.append(
            CopyrightStatement(
                path=rel,
                statement=str(item.get("copyright", "")),
                holders=list(dict.fromkeys(names)),
                start_line=start,
                end_line=end,
            )
        )
    return statements


def scan_licenses(
    root: Path,
    files: Sequence[FileEntry],
    *,
    limits: ScanLimits = ScanLimits(),
    should_cancel: Callable[[], bool] = lambda: False,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> LicenseScan:
    """License and copyright detection over the scannable files of an inventory."""
    warm_up()
    targets = [f for f in files if f.scanned]
    detections: list[LicenseDetection] = []
    copyrights: list[CopyrightStatement] = []
    failed: list[str] = []
    copyright_files = 0
    timeout = limits.per_file_timeout_s
    for done, entry in enumerate(targets):
        if should_cancel():
            raise AuditCancelled()
        location = root / entry.path
        try:
            detections.extend(detect_file_licenses(location, entry.path, timeout_s=timeout))
            if has_copyright_marker(location.read_bytes()):
                copyright_files += 1
                copyrights.extend(detect_file_copyrights(location, entry.path, timeout_s=timeout))
        except Exception:
            # ScanCode choking on one hostile or odd file must not sink the whole audit.
            failed.append(entry.path)
        progress(done + 1, len(targets))
    detections.sort(key=lambda d: (d.path, d.start_line, d.license_expression_spdx))
    copyrights.sort(key=lambda c: (c.path, c.start_line))
    return LicenseScan(detections, copyrights, len(targets), copyright_files, failed)


def summarize_licenses(detections: Sequence[LicenseDetection], files_scanned: int) -> Licenses:
    """Aggregate detections per SPDX expression and find the declared (top-level) license."""
    by_expression: dict[str, tuple[LicenseCategory, set[str]]] = {}
    declared: list[str] = []
    for d in detections:
        _, paths = by_expression.setdefault(d.license_expression_spdx, (d.category, set()))
        paths.add(d.path)
        if "/" not in d.path and _DECLARED_NAMES.match(d.path) and d.license_expression_spdx not in declared:
            declared.append(d.license_expression_spdx)
    totals = [
        LicenseTotal(
            license_expression_spdx=expression,
            category=category,
            copyleft=category in COPYLEFT_CATEGORIES,
            files=len(paths),
            paths=sorted(paths)[:_MAX_TOTAL_PATHS],
        )
        for expression, (category, paths) in by_expression.items()
    ]
    totals.sort(key=lambda t: (-t.files, t.license_expression_spdx))
    return Licenses(
        declared=_join_and(declared),
        totals=totals,
        detections=list(detections),
        files_scanned=files_scanned,
    )


def _join_and(expressions: list[str]) -> str | None:
    if not expressions:
        return None
    if len(expressions) == 1:
        return expressions[0]
    return " AND ".join(f"({e})" if " " in e else e for e in expressions)


@lru_cache(maxsize=4096)
def classify_expression(expression: str) -> LicenseCategory:
    """Category of a ScanCode license expression (license keys, not SPDX ids).

    AND combines to the most restrictive part, OR (a choice) to the least; a copyleft license with
    an exception (e.g. GPL-2.0 WITH Classpath-exception-2.0) counts as weak copyleft.
    """
    from licensedcode.cache import get_licenses_db, get_licensing

    licensing = get_licensing()
    db = get_licenses_db()
    try:
        parsed = licensing.parse(expression)
    except Exception:
        # license_expression raises its own error hierarchy on malformed input; treat as unknown.
        return "unknown"
    return _classify_node(parsed, licensing, db)


def _key_category(key: str, db: dict[str, Any]) -> LicenseCategory:
    lic = db.get(key)
    if lic is None:
        return "unknown"
    return _CATEGORY_BY_SCANCODE.get(str(lic.category), "other")


def _classify_node(node: Any, licensing: Any, db: dict[str, Any]) -> LicenseCategory:
    if node is None:
        return "unknown"
    if isinstance(node, (licensing.AND, licensing.OR)):
        parts = [_classify_node(arg, licensing, db) for arg in node.args]
        pick = max if isinstance(node, licensing.AND) else min
        return pick(parts, key=lambda c: _RANK[c])
    if hasattr(node, "exception_symbol"):
        base = _key_category(str(node.license_symbol.key), db)
        return "weak-copyleft" if base == "copyleft" else base
    return _key_category(str(getattr(node, "key", "")), db)

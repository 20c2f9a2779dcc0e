"""Secrets through detect-secrets with all of its default plugins and filters.

The raw value of a finding never leaves this module: findings carry a masked form that keeps at
most a well-known public prefix (``AKIA``, ``ghp_``...) so a reader can tell what kind of
credential leaked, followed by a fixed run of asterisks that does not reveal the length.

detect-secrets keeps its plugin configuration in process-global state, so scans are serialised by
a lock: two audits in threads of one process take turns in this stage.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Final, NamedTuple

from detect_secrets.core.scan import scan_file
from detect_secrets.settings import default_settings

from services.audit.scanner.errors import AuditCancelled
from services.audit.scanner.model import FileEntry, SecretFinding, Severity

_lock = threading.Lock()

# Detectors for generic patterns: likely secrets, but often test data or false positives.
GENERIC_TYPES: Final = frozenset(
    {
        "Base64 High Entropy String",
        "Hex High Entropy String",
        "Secret Keyword",
        "Basic Auth Credentials",
        "JSON Web Token",
    }
)
# Not a credential at all; reported for completeness.
INFORMATIONAL_TYPES: Final = frozenset({"Public IP (ipv4)"})

# Public, format-identifying prefixes that are safe to show.
_PUBLIC_PREFIXES: Final = (
    "github_pat_", "sk_live_", "rk_live_", "sk_test_", "rk_test_", "glpat-", "xoxb-", "xoxp-", "xoxa-",
    "xoxr-", "xoxs-", "pypi-", "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ghp_", "gho_", "ghu_", "ghs_",
    "ghr_", "npm_", "SG.",
)  # fmt: skip
MASK: Final = "********"


class SecretScan(NamedTuple):
    findings: list[SecretFinding]
    files_scanned: int
    failed: list[str]


def detect_secrets_version() -> str:
    return metadata.version("detect-secrets")


def mask(value: str) -> str:
    """A display form of a secret that keeps only a known public prefix."""
    for prefix in _PUBLIC_PREFIXES:
        if value.startswith(prefix) and len(value) >= 4 * len(prefix):
            return prefix + MASK
    return MASK


def severity_of(types: Sequence[str]) -> tuple[Severity, bool]:
    """(severity, live) for a value flagged by the given detect-secrets types."""
    if any(t not in GENERIC_TYPES and t not in INFORMATIONAL_TYPES for t in types):
        return "block", True
    if any(t in GENERIC_TYPES for t in types):
        return "warn", False
    return "info", False


def scan_secrets(
    root: Path,
    files: Sequence[FileEntry],
    *,
    should_cancel: Callable[[], bool] = lambda: False,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> SecretScan:
    """Run detect-secrets over the scannable files of an inventory."""
    targets = [f for f in files if f.scanned]
    findings: list[SecretFinding] = []
    failed: list[str] = []
    with _lock, default_settings():
        for done, entry in enumerate(targets):
            if should_cancel():
                raise AuditCancelled()
            try:
                findings.extend(_scan_one(root / entry.path, entry.path))
            except Exception:
                # A plugin or transformer choking on one hostile file must not sink the whole audit.
                failed.append(entry.path)
            progress(done + 1, len(targets))
    findings.sort(key=lambda s: (s.path, s.line, s.types))
    return SecretScan(findings, len(targets), failed)


def _scan_one(location: Path, rel: str) -> list[SecretFinding]:
    # One value on one line is often flagged by several plugins; report it once with every type.
    grouped: dict[tuple[int, str], tuple[list[str], str]] = {}
    for secret in scan_file(str(location)):
        types, value = grouped.setdefault((secret.line_number, secret.secret_hash), ([], secret.secret_value or ""))
        if secret.type not in types:
            types.append(secret.type)
    results = []
    for (line, _), (types, value) in grouped.items():
        severity, live = severity_of(types)
        results.append(
            SecretFinding(path=rel, line=line, types=sorted(types), masked=mask(value), live=live, severity=severity)
        )
    return results

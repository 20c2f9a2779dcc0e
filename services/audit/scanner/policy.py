"""The audit policy: turn scan results into findings, severity counts and a verdict.

Rules (id, severity):

* ``secret.live`` block: a provider-specific credential (AWS key, private key, GitHub token...),
  one finding per value.
* ``secret.possible`` warn: generic detections (high-entropy strings, password keywords, JWTs).
* ``secret.informational`` info: non-credential detections (public IP addresses).
* ``license.copyleft`` warn: a copyleft or weak-copyleft license in the tree, one per expression.
* ``license.restricted`` warn: commercial, proprietary or source-available terms, one per expression.
* ``license.unknown`` info: a license reference ScanCode could not identify, one per expression.
* ``inventory.compiled-artefact`` info: committed binaries that embed compiled code.
* ``scan.incomplete`` info: files the scanners skipped (too large) or failed on.

Verdict: block if any block finding, else warn if any warn finding, else pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Final, NamedTuple

from services.audit.scanner.inventory import COMPILED_ARTEFACTS
from services.audit.scanner.model import (
    Finding,
    Inventory,
    LicenseCategory,
    LicenseDetection,
    Location,
    SecretFinding,
    Severity,
    SeverityCounts,
    Verdict,
)

MAX_LOCATIONS: Final = 100
_ORDER: Final[dict[Severity, int]] = {"block": 0, "warn": 1, "info": 2}


class PolicyResult(NamedTuple):
    findings: list[Finding]
    counts: SeverityCounts
    verdict: Verdict


class ScanGaps(NamedTuple):
    """Files the scanners did not fully cover, by reason."""

    failed_license: Sequence[str] = ()
    failed_secret: Sequence[str] = ()
    failed_manifest: Sequence[str] = ()


def evaluate(
    *,
    inventory: Inventory,
    detections: Sequence[LicenseDetection],
    secrets: Sequence[SecretFinding],
    gaps: ScanGaps = ScanGaps(),
) -> PolicyResult:
    findings = [
        *_secret_findings(secrets),
        *_license_findings(detections),
        *_inventory_findings(inventory),
        *_gap_findings(inventory, gaps),
    ]
    findings.sort(key=lambda f: (_ORDER[f.severity], f.rule, f.title))
    counts = SeverityCounts(
        block=sum(f.severity == "block" for f in findings),
        warn=sum(f.severity == "warn" for f in findings),
        info=sum(f.severity == "info" for f in findings),
    )
    verdict: Verdict = "block" if counts.block else "warn" if counts.warn else "pass"
    return PolicyResult(findings, counts, verdict)


def _locations(items: Sequence[tuple[str, int | None]]) -> list[Location]:
    return [Location(path=path, line=line) for path, line in items[:MAX_LOCATIONS]]


def _secret_findings(secrets: Sequence[SecretFinding]) -> list[Finding]:
    findings = []
    for s in secrets:
        if s.severity == "block":
            findings.append(
                Finding(
                    rule="secret.live",
                    severity="block",
                    title=f"Credential committed: {', '.join(s.types)}",
                    detail=(
                        f"{s.path}:{s.line} holds {s.masked}. Treat it as leaked: revoke and rotate it, "
                        "then remove it from the history."
                    ),
                    locations=[Location(path=s.path, line=s.line)],
                )
            )
    for severity, rule, title in (
        ("warn", "secret.possible", "Possible secrets"),
        ("info", "secret.informational", "Non-credential detections"),
    ):
        group = [s for s in secrets if s.severity == severity]
        if group:
            types = sorted({t for s in group for t in s.types})
            findings.append(
                Finding(
                    rule=rule,
                    severity="warn" if severity == "warn" else "info",
                    title=f"{title} ({len(group)})",
                    detail=f"detect-secrets flagged {len(group)} value(s) of type {', '.join(types)}; review each.",
                    locations=_locations([(s.path, s.line) for s in group]),
                )
            )
    return findings


_LICENSE_RULES: Final[dict[LicenseCategory, tuple[str, Severity, str]]] = {
    "copyleft": ("license.copyleft", "warn", "Copyleft license"),
    "weak-copyleft": ("license.copyleft", "warn", "Weak copyleft license"),
    "restricted": ("license.restricted", "warn", "Restricted license"),
    "unknown": ("license.unknown", "info", "Unidentified license"),
}


def _license_findings(detections: Sequence[LicenseDetection]) -> list[Finding]:
    grouped: dict[str, list[LicenseDetection]] = {}
    for d in detections:
        if d.category in _LICENSE_RULES:
            grouped.setdefault(d.license_expression_spdx, []).append(d)
    findings = []
    for expression, items in grouped.items():
        rule, severity, label = _LICENSE_RULES[items[0].category]
        first_line: dict[str, int] = {}
        for d in items:
            first_line.setdefault(d.path, d.start_line)
        files = sorted(first_line)
        findings.append(
            Finding(
                rule=rule,
                severity=severity,
                title=f"{label}: {expression}",
                detail=f"{expression} was detected in {len(files)} file(s); check it is compatible with how "
                "the code is distributed.",
                locations=_locations([(path, first_line[path]) for path in files]),
            )
        )
    return findings


def _inventory_findings(inventory: Inventory) -> list[Finding]:
    artefacts = [f.path for f in inventory.files if PurePosixPath(f.path).suffix.lower() in COMPILED_ARTEFACTS]
    if not artefacts:
        return []
    return [
        Finding(
            rule="inventory.compiled-artefact",
            severity="info",
            title=f"Compiled artefacts committed ({len(artefacts)})",
            detail="Binaries cannot be license- or secret-scanned; confirm their origin and license.",
            locations=_locations([(path, None) for path in artefacts]),
        )
    ]


def _gap_findings(inventory: Inventory, gaps: ScanGaps) -> list[Finding]:
    too_large = [f.path for f in inventory.files if f.skip_reason == "too-large"]
    parts = [
        (too_large, "too large to scan"),
        (list(gaps.failed_license), "failed license/copyright detection"),
        (list(gaps.failed_secret), "failed secret detection"),
        (list(gaps.failed_manifest), "manifest could not be parsed"),
    ]
    findings = []
    for paths, reason in parts:
        if paths:
            findings.append(
                Finding(
                    rule="scan.incomplete",
                    severity="info",
                    title=f"Not fully scanned: {reason} ({len(paths)})",
                    detail=f"{len(paths)} file(s) were not fully covered by the scanners ({reason}).",
                    locations=_locations([(path, None) for path in sorted(paths)]),
                )
            )
    return findings

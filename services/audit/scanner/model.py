"""The audit report: msgspec structs, their JSON encoding and the JSON Schema that documents them.

Every struct and field carries a description that ends up in `report_json_schema()`, which is the
contract for API clients and for anything reading stored reports. Bump `SCHEMA_VERSION` on any
change that is not a pure addition of an optional field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from services.audit.scanner.limits import ScanLimits

SCHEMA_VERSION = "1.0"

Severity = Literal["block", "warn", "info"]
Verdict = Literal["pass", "warn", "block"]
LicenseCategory = Literal["permissive", "public-domain", "weak-copyleft", "copyleft", "restricted", "other", "unknown"]
SourceKind = Literal["git", "archive", "directory"]
DependencyScope = Literal["required", "optional", "dev", "build"]
Ecosystem = Literal["pypi", "npm", "golang", "cargo"]


def _d(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text)


class SourceInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What was audited."""

    kind: Annotated[SourceKind, _d("git checkout, unpacked archive, or a plain directory")]
    name: Annotated[str, _d("Display name: repository name, archive name or directory name")]
    repository: Annotated[str | None, _d("Repository URL as submitted (never contains credentials)")] = None
    branch: Annotated[str | None, _d("Branch that was checked out, when known")] = None
    commit: Annotated[str | None, _d("Full SHA of the audited commit, when the tree is a git checkout")] = None


class SeverityCounts(msgspec.Struct, frozen=True, kw_only=True):
    """Number of findings per severity."""

    block: Annotated[int, _d("Findings that fail the audit")] = 0
    warn: Annotated[int, _d("Findings that need a human decision")] = 0
    info: Annotated[int, _d("Findings worth knowing about")] = 0


class LanguageStats(msgspec.Struct, frozen=True, kw_only=True):
    """Size of one programming/markup language in the tree (by file extension or name)."""

    language: str
    files: int
    bytes: int
    lines: Annotated[int, _d("Physical lines")]
    code_lines: Annotated[int, _d("Non-blank lines")]


class FileEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One regular file of the tree."""

    path: Annotated[str, _d("POSIX path relative to the tree root")]
    size: Annotated[int, _d("Size in bytes")]
    sha256: Annotated[str, _d("Hex SHA-256 of the content")]
    language: Annotated[str | None, _d("Language guessed from the file name; null when unknown")] = None
    lines: Annotated[int, _d("Physical lines (0 for binary files)")] = 0
    code_lines: Annotated[int, _d("Non-blank lines (0 for binary files)")] = 0
    binary: Annotated[bool, _d("Content or extension says binary; binaries are not content-scanned")] = False
    vendored: Annotated[bool, _d("Lives under a vendored/third-party directory such as vendor/")] = False
    scanned: Annotated[bool, _d("Content went through the license, copyright and secret scanners")] = False
    skip_reason: Annotated[str | None, _d("Why the content was not scanned: binary or too-large")] = None


class SkippedPath(msgspec.Struct, frozen=True, kw_only=True):
    """A directory entry that is not a regular file and was therefore not inventoried."""

    path: str
    reason: Annotated[str, _d("symlink, special-file or unreadable")]


class Inventory(msgspec.Struct, frozen=True, kw_only=True):
    """File inventory of the tree (VCS metadata directories excluded)."""

    files_total: int
    bytes_total: int
    lines_total: int
    code_lines_total: int
    languages: Annotated[list[LanguageStats], _d("Per-language totals, largest first by code lines")]
    files: Annotated[list[FileEntry], _d("Every regular file, sorted by path")]
    skipped: Annotated[list[SkippedPath], _d("Links and special files that were not followed")] = []


class LicenseDetection(msgspec.Struct, frozen=True, kw_only=True):
    """One license detected by ScanCode in one file."""

    path: str
    license_expression_spdx: Annotated[str, _d("SPDX license expression")]
    license_expression: Annotated[str, _d("ScanCode license expression (ScanCode license keys)")]
    category: Annotated[LicenseCategory, _d("Our classification of the expression")]
    copyleft: Annotated[bool, _d("True for copyleft and weak-copyleft expressions")]
    score: Annotated[float, _d("Lowest ScanCode match score of the detection, 0-100")]
    start_line: int
    end_line: int
    rule: Annotated[str, _d("ScanCode rule identifier of the first match")] = ""


class LicenseTotal(msgspec.Struct, frozen=True, kw_only=True):
    """Files per distinct license expression."""

    license_expression_spdx: str
    category: LicenseCategory
    copyleft: bool
    files: Annotated[int, _d("Number of files with at least one detection of this expression")]
    paths: Annotated[list[str], _d("Up to 50 of those files, sorted")]


class Licenses(msgspec.Struct, frozen=True, kw_only=True):
    """License detections and their aggregation."""

    declared: Annotated[str | None, _d("SPDX expression found in top-level LICENSE/COPYING/NOTICE-style files")] = None
    totals: Annotated[list[LicenseTotal], _d("One entry per distinct SPDX expression, most files first")] = []
    detections: Annotated[list[LicenseDetection], _d("Every detection, sorted by path and line")] = []
    files_scanned: Annotated[int, _d("Files passed to ScanCode license detection")] = 0


class CopyrightStatement(msgspec.Struct, frozen=True, kw_only=True):
    """A copyright statement detected by ScanCode."""

    path: str
    statement: str
    holders: list[str] = []
    start_line: int
    end_line: int


class SecretFinding(msgspec.Struct, frozen=True, kw_only=True):
    """A potential secret found by detect-secrets. The raw value is never stored."""

    path: str
    line: int
    types: Annotated[list[str], _d("detect-secrets plugin types that flagged this value on this line")]
    masked: Annotated[str, _d("At most a short known prefix followed by asterisks")]
    live: Annotated[bool, _d("A provider-specific credential format (e.g. AWS key, private key)")]
    severity: Severity


class Dependency(msgspec.Struct, frozen=True, kw_only=True):
    """A dependency declared in (or locked by) a manifest of the tree."""

    ecosystem: Ecosystem
    name: str
    purl: Annotated[str, _d("Package URL; carries the version only when it is exact")]
    manifest: Annotated[str, _d("Path of the manifest that declares it")]
    version: Annotated[str | None, _d("Exact version when pinned or locked")] = None
    version_spec: Annotated[str | None, _d("Declared constraint as written, e.g. >=2,<3 or ^1.2")] = None
    scope: DependencyScope = "required"
    direct: Annotated[bool, _d("Declared by the project itself rather than only present in a lock file")] = True


class AuthorStats(msgspec.Struct, frozen=True, kw_only=True):
    """Contribution of one author (identified by e-mail, mailmap applied)."""

    name: str
    email: str
    commits: int
    lines_added: int
    lines_deleted: int
    files_touched: int
    first_commit: datetime
    last_commit: datetime


class Authorship(msgspec.Struct, frozen=True, kw_only=True):
    """Who wrote the code, from `git log --numstat`."""

    available: Annotated[bool, _d("False when the tree has no git history")]
    note: Annotated[str | None, _d("Why authorship is missing or partial")] = None
    commits_total: int = 0
    authors: Annotated[list[AuthorStats], _d("Most commits first")] = []
    first_commit: datetime | None = None
    last_commit: datetime | None = None
    shallow: Annotated[bool, _d("History was cut by a shallow clone; counts cover the fetched part")] = False
    truncated: Annotated[bool, _d("More commits exist than ScanLimits.max_commits allowed reading")] = False


class Location(msgspec.Struct, frozen=True, kw_only=True):
    """A place in the tree: a file and, when known, a 1-based line."""

    path: str
    line: int | None = None


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """A policy result: something in the tree that affects the verdict."""

    rule: Annotated[str, _d("Stable rule id, e.g. license.copyleft or secret.live")]
    severity: Severity
    title: str
    detail: str
    locations: Annotated[list[Location], _d("Where it was found (capped at 100)")] = []


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """Headline numbers and the verdict."""

    verdict: Annotated[Verdict, _d("block if any block finding, else warn if any warn finding, else pass")]
    severity: SeverityCounts
    files_total: int
    files_scanned: Annotated[int, _d("Files whose content went through the scanners")]
    bytes: int
    lines: int
    code_lines: int
    languages: Annotated[dict[str, int], _d("Language to non-blank lines, largest first")]
    licenses: Annotated[int, _d("Distinct SPDX expressions detected")]
    copyleft_licenses: Annotated[int, _d("Distinct copyleft or weak-copyleft expressions")]
    copyleft_files: Annotated[int, _d("Files with at least one copyleft detection")]
    copyrights: int
    secrets: int
    live_secrets: int
    dependencies: int
    authors: int
    declared_license: str | None = None


class ScanInfo(msgspec.Struct, frozen=True, kw_only=True):
    """How the audit ran: tool versions, limits and time per stage."""

    tools: Annotated[dict[str, str], _d("Scanner name to version")]
    limits: ScanLimits
    stage_seconds: Annotated[dict[str, float], _d("Wall-clock seconds per pipeline stage")]
    license_files: Annotated[int, _d("Files passed to ScanCode license detection")] = 0
    copyright_files: Annotated[int, _d("Files passed to ScanCode copyright detection")] = 0
    secret_files: Annotated[int, _d("Files passed to detect-secrets")] = 0


class AuditReport(msgspec.Struct, frozen=True, kw_only=True):
    """ForgeTrace code-provenance audit of one source tree."""

    schema_version: Annotated[str, _d("Version of this schema")]
    generated_at: Annotated[datetime, _d("UTC time the report was produced")]
    source: SourceInfo
    summary: Summary
    inventory: Inventory
    licenses: Licenses
    copyrights: list[CopyrightStatement]
    secrets: Annotated[list[SecretFinding], _d("Masked secrets, sorted by path and line")]
    dependencies: Annotated[list[Dependency], _d("Sorted by ecosystem, name, manifest")]
    authorship: Authorship
    findings: Annotated[list[Finding], _d("Policy findings, most severe first")]
    scan: ScanInfo


def report_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of `AuditReport` as produced by `msgspec.json.schema`."""
    return msgspec.json.schema(AuditReport)


def decode_report(data: bytes | str) -> AuditReport:
    """Parse and validate a stored JSON report."""
    return msgspec.json.decode(data, type=AuditReport)

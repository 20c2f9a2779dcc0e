"""Errors raised on purpose by the audit domain code.

Every message is safe to show to the user who submitted the audit: it never contains a credential,
a local filesystem path or raw tool output. `code` is a stable machine-readable reason the job layer
can store and map to an API error.
"""

from __future__ import annotations


class AuditError(Exception):
    """Base class for every error the audit domain raises on purpose."""

    code = "audit_error"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class RepositoryRefused(AuditError, ValueError):
    """The repository URL is not one we are willing to fetch (scheme, host, address, shape)."""

    code = "repository_refused"


class FetchFailed(AuditError):
    """The repository could not be fetched (not found, unreachable, branch missing, timeout)."""

    code = "fetch_failed"


class RepositoryTooLarge(FetchFailed):
    """The clone grew past `FetchLimits.max_repo_bytes` and was stopped."""

    code = "repository_too_large"


class ArchiveRefused(AuditError, ValueError):
    """The uploaded archive is malformed, unsupported or hostile (escape, links, devices, bomb)."""

    code = "archive_refused"


class SourceTooLarge(AuditError):
    """The source tree holds more files than `ScanLimits.max_files`."""

    code = "source_too_large"


class SbomInvalid(AuditError):
    """The generated CycloneDX document failed schema validation (a bug on our side)."""

    code = "sbom_invalid"


class AuditCancelled(AuditError):
    """`should_cancel` returned true; the fetch or audit stopped without producing a report."""

    code = "cancelled"

    def __init__(self, reason: str = "audit cancelled") -> None:
        super().__init__(reason)

"""ForgeTrace audit domain core: fetch a source tree, scan it, and describe it as an `AuditReport`.

Everything here is synchronous; the service runs it in a worker thread or process.
"""

from services.audit.scanner.errors import (
    ArchiveRefused,
    AuditCancelled,
    AuditError,
    FetchFailed,
    RepositoryRefused,
    RepositoryTooLarge,
    SbomInvalid,
    SourceTooLarge,
)
from services.audit.scanner.licenses import warm_up
from services.audit.scanner.limits import FetchLimits, ScanLimits
from services.audit.scanner.model import SCHEMA_VERSION, AuditReport, SourceInfo, decode_report, report_json_schema
from services.audit.scanner.pipeline import STAGES, run_audit
from services.audit.scanner.source import (
    clone_local_repository,
    clone_repository,
    unpack_archive,
    validate_repo_url,
)

__all__ = [
    "SCHEMA_VERSION",
    "STAGES",
    "ArchiveRefused",
    "AuditCancelled",
    "AuditError",
    "AuditReport",
    "FetchFailed",
    "FetchLimits",
    "RepositoryRefused",
    "RepositoryTooLarge",
    "SbomInvalid",
    "ScanLimits",
    "SourceInfo",
    "SourceTooLarge",
    "clone_local_repository",
    "clone_repository",
    "decode_report",
    "report_json_schema",
    "run_audit",
    "unpack_archive",
    "validate_repo_url",
    "warm_up",
]

"""The audit pipeline: run every scanner over a tree on disk and assemble the `AuditReport`.

`run_audit` is synchronous and blocking (ScanCode and detect-secrets are CPU-bound Python); run it
in a worker thread or process. Stages run in order — inventory, licenses, secrets, dependencies,
authorship, policy — and `on_stage(stage, percent)` reports overall progress (0-100, never
decreasing) at each stage start and as files are scanned. `should_cancel` is polled between stages
and before every file; when it returns true the pipeline raises `AuditCancelled`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from services.audit.scanner import authorship, inventory, licenses, policy, sbom, secrets
from services.audit.scanner.errors import AuditCancelled
from services.audit.scanner.limits import ScanLimits
from services.audit.scanner.model import SCHEMA_VERSION, AuditReport, ScanInfo, SourceInfo, SourceKind, Summary

STAGES: Final = ("inventory", "licenses", "secrets", "dependencies", "authorship", "policy")

# Share of the overall percentage each stage covers, from measured run times on mixed trees.
_SPANS: Final[dict[str, tuple[int, int]]] = {
    "inventory": (0, 5),
    "licenses": (5, 50),
    "secrets": (50, 88),
    "dependencies": (88, 91),
    "authorship": (91, 98),
    "policy": (98, 100),
}

OnStage = Callable[[str, int], None]


def _ignore(stage: str, percent: int) -> None:
    return None


def _never() -> bool:
    return False


class _Progress:
    def __init__(self, on_stage: OnStage) -> None:
        self._on_stage = on_stage
        self._last: tuple[str, int] | None = None

    def report(self, stage: str, fraction: float) -> None:
        low, high = _SPANS[stage]
        percent = low + int((high - low) * min(1.0, max(0.0, fraction)))
        if self._last is None or ((stage, percent) != self._last and percent >= self._last[1]):
            self._last = (stage, percent)
            self._on_stage(stage, percent)

    def files(self, stage: str) -> Callable[[int, int], None]:
        return lambda done, total: self.report(stage, done / total if total else 1.0)


def run_audit(
    source: Path,
    *,
    on_stage: OnStage = _ignore,
    should_cancel: Callable[[], bool] = _never,
    limits: ScanLimits = ScanLimits(),
    source_info: SourceInfo | None = None,
) -> AuditReport:
    """Audit the tree at `source` and return the report.

    `source_info` describes where the tree came from (repository URL, branch, archive name); when
    omitted the tree is described as a plain directory, or a git checkout if it has a `.git`
    directory. The commit SHA is always taken from the tree itself.

    Raises AuditCancelled, SourceTooLarge, or OSError if `source` is not a readable directory.
    """
    if not source.is_dir():
        raise NotADirectoryError(f"audit source is not a directory: {source.name}")
    progress = _Progress(on_stage)
    timings: dict[str, float] = {}

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        if should_cancel():
            raise AuditCancelled()
        progress.report(name, 0.0)
        started = time.perf_counter()
        yield
        timings[name] = round(time.perf_counter() - started, 3)

    with stage("inventory"):
        tree = inventory.build_inventory(source, limits=limits, should_cancel=should_cancel)
    with stage("licenses"):
        license_scan = licenses.scan_licenses(
            source, tree.files, limits=limits, should_cancel=should_cancel, progress=progress.files("licenses")
        )
        license_summary = licenses.summarize_licenses(license_scan.detections, license_scan.license_files)
    with stage("secrets"):
        secret_scan = secrets.scan_secrets(
            source, tree.files, should_cancel=should_cancel, progress=progress.files("secrets")
        )
    with stage("dependencies"):
        manifests = sbom.find_dependencies(source, tree.files, should_cancel=should_cancel)
    with stage("authorship"):
        history = authorship.collect_authorship(source, limits=limits, should_cancel=should_cancel)
        head = authorship.git_head(source)
    with stage("policy"):
        verdict = policy.evaluate(
            inventory=tree,
            detections=license_scan.detections,
            secrets=secret_scan.findings,
            gaps=policy.ScanGaps(
                failed_license=license_scan.failed,
                failed_secret=secret_scan.failed,
                failed_manifest=manifests.failed,
            ),
        )
    progress.report("policy", 1.0)

    info = _source_info(source, source_info, head)
    copyleft = [t for t in license_summary.totals if t.copyleft]
    summary = Summary(
        verdict=verdict.verdict,
        severity=verdict.counts,
        files_total=tree.files_total,
        files_scanned=sum(1 for f in tree.files if f.scanned),
        bytes=tree.bytes_total,
        lines=tree.lines_total,
        code_lines=tree.code_lines_total,
        languages={lang.language: lang.code_lines for lang in tree.languages},
        licenses=len(license_summary.totals),
        copyleft_licenses=len(copyleft),
        copyleft_files=len({d.path for d in license_scan.detections if d.copyleft}),
        copyrights=len(license_scan.copyrights),
        secrets=len(secret_scan.findings),
        live_secrets=sum(1 for s in secret_scan.findings if s.live),
        dependencies=len(manifests.dependencies),
        authors=len(history.authors),
        declared_license=license_summary.declared,
    )
    return AuditReport(
        schema_version=SCHEMA_VERSION,
        generated_at=datetime.now(UTC),
        source=info,
        summary=summary,
        inventory=tree,
        licenses=license_summary,
        copyrights=license_scan.copyrights,
        secrets=secret_scan.findings,
        dependencies=manifests.dependencies,
        authorship=history,
        findings=verdict.findings,
        scan=ScanInfo(
            tools={
                "scancode-toolkit": licenses.scancode_version(),
                "detect-secrets": secrets.detect_secrets_version(),
                "cyclonedx-python-lib": sbom.cyclonedx_version(),
            },
            limits=limits,
            stage_seconds=timings,
            license_files=license_scan.license_files,
            copyright_files=license_scan.copyright_files,
            secret_files=secret_scan.files_scanned,
        ),
    )


def _source_info(source: Path, given: SourceInfo | None, head: authorship.GitHead) -> SourceInfo:
    if given is None:
        kind: SourceKind = "git" if head.commit else "directory"
        return SourceInfo(kind=kind, name=source.resolve().name or "source", branch=head.branch, commit=head.commit)
    return SourceInfo(
        kind=given.kind,
        name=given.name,
        repository=given.repository,
        branch=given.branch or head.branch,
        commit=head.commit or given.commit,
    )

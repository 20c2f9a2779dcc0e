"""Session fixtures: one fixture repository, cloned and audited once (ScanCode's index loads once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.audit.report import render_html, render_json, render_pdf, render_sbom
from services.audit.scanner import AuditReport, SourceInfo, clone_local_repository, run_audit
from tests.audit.fixtures import build_fixture_repo, make_bare_clone

REPOSITORY_URL = "https://git.example.org/acme/fixture-app"


@pytest.fixture(scope="session")
def fixture_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixture_repo(tmp_path_factory.mktemp("work") / "fixture-app")


@pytest.fixture(scope="session")
def bare_repo(fixture_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bare_clone(fixture_repo, tmp_path_factory.mktemp("bare") / "fixture-app.git")


class Audited:
    def __init__(self, report: AuditReport, events: list[tuple[str, int]], tree: Path) -> None:
        self.report = report
        self.events = events
        self.tree = tree
        self.json = render_json(report)
        self.html = render_html(report)
        self.pdf = render_pdf(report)
        self.sbom = render_sbom(report)


@pytest.fixture(scope="session")
def audited(bare_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Audited:
    """The fixture repository fetched through the clone path and audited end to end."""
    tree = tmp_path_factory.mktemp("clone") / "fixture-app"
    clone_local_repository(bare_repo, tree)
    events: list[tuple[str, int]] = []
    report = run_audit(
        tree,
        on_stage=lambda stage, percent: events.append((stage, percent)),
        source_info=SourceInfo(kind="git", name="fixture-app", repository=REPOSITORY_URL, branch="main"),
    )
    return Audited(report, events, tree)

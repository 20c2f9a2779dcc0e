"""End to end: the fixture repository cloned, audited with ScanCode/detect-secrets, and rendered."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from io import BytesIO
from pathlib import Path

import msgspec
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from services.audit.report import render_html, render_sbom
from services.audit.scanner import (
    STAGES,
    AuditCancelled,
    SourceInfo,
    decode_report,
    report_json_schema,
    run_audit,
    unpack_archive,
)
from services.audit.scanner.licenses import classify_expression
from tests.audit.conftest import REPOSITORY_URL, Audited
from tests.audit.fixtures import AWS_ACCESS_KEY, AWS_SECRET_KEY, tar_bytes


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    if shutil.which("pdftotext"):
        path = tmp_path / "report.pdf"
        path.write_bytes(pdf)
        return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    from pdfminer.high_level import extract_text

    return extract_text(BytesIO(pdf))


def test_licenses_and_copyrights(audited: Audited) -> None:
    report = audited.report
    by_path = {d.path: d for d in report.licenses.detections}
    assert by_path["LICENSE"].license_expression_spdx == "MIT"
    assert by_path["LICENSE"].category == "permissive"
    gpl = by_path["src/checksum.py"]
    assert gpl.license_expression_spdx == "GPL-3.0-or-later"
    assert gpl.copyleft
    assert gpl.category == "copyleft"
    assert report.licenses.declared == "MIT"
    assert report.summary.declared_license == "MIT"
    assert report.summary.copyleft_files == 1
    statements = {c.statement for c in report.copyrights}
    assert "Copyright (c) 2024 Alice Martin" in statements
    assert any("Bob Okafor" in c.holders for c in report.copyrights)


def test_policy_blocks_on_the_aws_key_and_warns_on_gpl(audited: Audited) -> None:
    report = audited.report
    assert report.summary.verdict == "block"
    rules = {(f.rule, f.severity) for f in report.findings}
    assert ("secret.live", "block") in rules
    assert ("license.copyleft", "warn") in rules
    copyleft = next(f for f in report.findings if f.rule == "license.copyleft")
    assert copyleft.title == "Copyleft license: GPL-3.0-or-later"
    assert [loc.path for loc in copyleft.locations] == ["src/checksum.py"]
    assert report.findings[0].severity == "block"
    assert report.summary.severity.block >= 1
    assert report.summary.severity.warn >= 1
    assert ("inventory.compiled-artefact", "info") in rules


def test_secret_is_reported_masked_and_never_raw(audited: Audited, tmp_path: Path) -> None:
    secrets = {(s.path, s.line): s for s in audited.report.secrets}
    key = secrets[("config/settings.py", 4)]
    assert key.types == ["AWS Access Key"]
    assert key.live
    assert key.severity == "block"
    assert key.masked == "AKIA********"
    assert secrets[("config/settings.py", 5)].live
    text = pdf_text(audited.pdf, tmp_path)
    for raw in (AWS_ACCESS_KEY, AWS_SECRET_KEY, AWS_SECRET_KEY[:20]):
        assert raw.encode() not in audited.json
        assert raw not in audited.html
        assert raw not in text
        assert raw.encode() not in audited.sbom
    assert "AKIA********" in audited.html


def test_dependencies_from_all_ecosystems(audited: Audited) -> None:
    purls = {d.purl for d in audited.report.dependencies}
    assert {
        "pkg:pypi/requests@2.31.0",
        "pkg:pypi/flask",
        "pkg:pypi/numpy",
        "pkg:npm/express",
        "pkg:npm/left-pad@1.3.0",
        "pkg:npm/%40types/node@20.11.5",
        "pkg:golang/github.com/pkg/errors@v0.9.1",
        "pkg:golang/github.com/google/uuid@v1.6.0",
        "pkg:golang/golang.org/x/text@v0.14.0",
        "pkg:cargo/serde",
        "pkg:cargo/rand@0.8.5",
        "pkg:cargo/tempfile",
    } == purls
    text = next(d for d in audited.report.dependencies if d.name == "golang.org/x/text")
    assert not text.direct
    assert audited.report.summary.dependencies == 12


def test_two_authors_with_commit_counts(audited: Audited) -> None:
    authorship = audited.report.authorship
    assert authorship.available
    assert authorship.commits_total == 5
    counts = {(a.name, a.email): a.commits for a in authorship.authors}
    assert counts == {("Alice Martin", "alice@example.org"): 3, ("Bob Okafor", "bob@example.net"): 2}
    assert audited.report.summary.authors == 2


def test_source_and_inventory(audited: Audited) -> None:
    report = audited.report
    assert report.source.repository == REPOSITORY_URL
    assert report.source.branch == "main"
    assert report.source.commit is not None
    assert len(report.source.commit) == 40
    assert report.summary.files_total == 11
    assert report.summary.files_scanned == 10
    assert report.summary.languages["Python"] > 0
    assert report.scan.tools["scancode-toolkit"].startswith("32.")
    assert set(report.scan.stage_seconds) == set(STAGES)


def test_progress_events_follow_the_stages(audited: Audited) -> None:
    stages = list(dict.fromkeys(stage for stage, _ in audited.events))
    assert stages == list(STAGES)
    percents = [percent for _, percent in audited.events]
    assert percents == sorted(percents)
    assert percents[0] == 0
    assert percents[-1] == 100


def test_sbom_is_valid_cyclonedx(audited: Audited) -> None:
    document = audited.sbom.decode()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(document) is None
    sbom = json.loads(document)
    assert sbom["bomFormat"] == "CycloneDX"
    assert sbom["specVersion"] == "1.6"
    assert sbom["metadata"]["component"]["name"] == "fixture-app"
    assert sbom["metadata"]["component"]["licenses"] == [{"expression": "MIT"}]
    purls = {c["purl"] for c in sbom["components"]}
    assert "pkg:pypi/requests@2.31.0" in purls
    assert "pkg:golang/github.com/pkg/errors@v0.9.1" in purls
    root = next(d for d in sbom["dependencies"] if d["ref"] == "forgetrace:source")
    assert "pkg:npm/left-pad@1.3.0" in root["dependsOn"]
    assert "pkg:golang/golang.org/x/text@v0.14.0" not in root["dependsOn"]
    assert render_sbom(audited.report) == audited.sbom


def test_pdf_renders(audited: Audited, tmp_path: Path) -> None:
    assert audited.pdf.startswith(b"%PDF")
    text = pdf_text(audited.pdf, tmp_path)
    assert "fixture-app" in text
    assert "GPL-3.0-or-later" in text


def test_json_roundtrips_and_matches_the_schema(audited: Audited) -> None:
    assert decode_report(audited.json) == audited.report
    schema = report_json_schema()
    top = schema["$defs"]["AuditReport"]
    assert set(top["required"]) >= {
        "schema_version",
        "generated_at",
        "source",
        "summary",
        "inventory",
        "licenses",
        "copyrights",
        "secrets",
        "dependencies",
        "authorship",
        "findings",
    }
    assert "description" in schema["$defs"]["SecretFinding"]["properties"]["masked"]


def test_html_escapes_untrusted_strings(audited: Audited) -> None:
    hostile = msgspec.structs.replace(
        audited.report, source=SourceInfo(kind="git", name="<script>alert(1)</script>", repository=REPOSITORY_URL)
    )
    html = render_html(hostile)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_classification_of_license_expressions(audited: Audited) -> None:
    assert classify_expression("mit") == "permissive"
    assert classify_expression("gpl-2.0 WITH classpath-exception-2.0") == "weak-copyleft"
    assert classify_expression("mit OR gpl-3.0") == "permissive"
    assert classify_expression("mit AND lgpl-2.1") == "weak-copyleft"
    assert classify_expression("agpl-3.0-plus") == "copyleft"
    assert classify_expression("unknown-license-reference") == "unknown"
    assert classify_expression("not a ( valid expression") == "unknown"


def test_cancellation_between_files(audited: Audited) -> None:
    calls: list[str] = []

    def on_stage(stage: str, percent: int) -> None:
        calls.append(stage)

    with pytest.raises(AuditCancelled):
        run_audit(audited.tree, on_stage=on_stage, should_cancel=lambda: "licenses" in calls)
    assert calls[-1] == "licenses"


def test_audit_of_an_unpacked_archive(audited: Audited, tmp_path: Path) -> None:
    files = {
        "proj-1.0/LICENSE": (audited.tree / "LICENSE").read_bytes(),
        "proj-1.0/src/checksum.py": (audited.tree / "src" / "checksum.py").read_bytes(),
        "proj-1.0/.git/config": b"[core]\n\tfsmonitor = touch /tmp/pwned\n",
    }
    archive = tmp_path / "proj-1.0.tar.gz"
    archive.write_bytes(tar_bytes(files))
    tree = tmp_path / "tree"
    unpack_archive(archive, tree)
    report = run_audit(tree, source_info=SourceInfo(kind="archive", name="proj-1.0.tar.gz"))
    assert report.source.kind == "archive"
    assert report.source.commit is None
    assert not report.authorship.available
    assert report.authorship.note is not None
    assert "no git history" in report.authorship.note
    assert report.summary.verdict == "warn"
    assert {d.license_expression_spdx for d in report.licenses.detections} == {"MIT", "GPL-3.0-or-later"}


def test_pdf_renderer_loads_nothing_external(
    audited: Audited, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from services.audit.report import render

    hostile = '<p>x</p><img src="file:///etc/hostname"><link rel="stylesheet" href="http://169.254.169.254/a.css">'
    monkeypatch.setattr(render, "render_html", lambda report: hostile)
    with caplog.at_level(logging.ERROR, logger="weasyprint"):
        pdf = render.render_pdf(audited.report)
    assert pdf.startswith(b"%PDF")
    assert caplog.text.count("disallowed protocol") == 2

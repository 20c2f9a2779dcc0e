"""The individual scanners on small trees (ScanCode-free, so these run in about a second)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from services.audit.scanner.authorship import collect_authorship, git_head
from services.audit.scanner.errors import AuditCancelled, SourceTooLarge
from services.audit.scanner.inventory import build_inventory
from services.audit.scanner.limits import ScanLimits
from services.audit.scanner.model import Inventory, LicenseDetection, SecretFinding
from services.audit.scanner.policy import evaluate
from services.audit.scanner.sbom import find_dependencies, parse_pep508
from services.audit.scanner.secrets import mask, scan_secrets, severity_of
from tests.audit.fixtures import AWS_ACCESS_KEY, AWS_SECRET_KEY


def tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def test_inventory_counts_languages_and_skips_vcs_links_and_binaries(tmp_path: Path) -> None:
    root = tree(
        tmp_path / "t",
        {
            "a.py": "import os\n\nprint(os.name)\n",
            "b.js": "let x = 1;\n",
            "Makefile": "all:\n\techo hi\n",
            "img.png": b"\x89PNG\r\n\x1a\n" + bytes(32),
            "blob.dat2": b"abc\x00def",
            "vendor/dep/lib.so": b"\x7fELF" + bytes(16),
            ".git/config": "[core]\n",
            "big.txt": "x" * 300 + "\n",
        },
    )
    os.symlink("/etc/passwd", root / "passwd")
    os.symlink("/etc", root / "etc-dir")
    inv = build_inventory(root, limits=ScanLimits(max_scan_file_bytes=200))
    paths = [f.path for f in inv.files]
    assert paths == sorted(paths)
    assert ".git/config" not in paths
    assert {s.path: s.reason for s in inv.skipped} == {"etc-dir": "symlink", "passwd": "symlink"}
    by_path = {f.path: f for f in inv.files}
    assert by_path["a.py"].language == "Python"
    assert (by_path["a.py"].lines, by_path["a.py"].code_lines) == (3, 2)
    assert by_path["Makefile"].language == "Makefile"
    assert by_path["img.png"].binary
    assert by_path["img.png"].skip_reason == "binary"
    assert by_path["blob.dat2"].binary
    assert by_path["vendor/dep/lib.so"].vendored
    assert by_path["vendor/dep/lib.so"].binary
    assert by_path["big.txt"].skip_reason == "too-large"
    assert not by_path["big.txt"].scanned
    assert by_path["a.py"].scanned
    assert len(by_path["a.py"].sha256) == 64
    assert inv.files_total == 7
    assert {lang.language for lang in inv.languages} >= {"Python", "JavaScript", "Makefile", "Text"}


def test_inventory_refuses_trees_with_too_many_files(tmp_path: Path) -> None:
    root = tree(tmp_path / "t", {f"f{i}.txt": "x" for i in range(5)})
    with pytest.raises(SourceTooLarge, match="more than 4 files"):
        build_inventory(root, limits=ScanLimits(max_files=4))


def test_inventory_can_be_cancelled(tmp_path: Path) -> None:
    root = tree(tmp_path / "t", {"a.txt": "x"})
    with pytest.raises(AuditCancelled):
        build_inventory(root, should_cancel=lambda: True)


def test_secrets_are_found_masked_and_classified(tmp_path: Path) -> None:
    root = tree(
        tmp_path / "t",
        {
            "settings.py": f'KEY = "{AWS_ACCESS_KEY}"\naws_secret_access_key = "{AWS_SECRET_KEY}"\n',
            "deploy/id_rsa": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----\n",
            "db.py": 'password = "correct-horse-battery"\n',
            "clean.py": "print('hello')\n",
        },
    )
    inv = build_inventory(root)
    result = scan_secrets(root, inv.files)
    assert result.files_scanned == 4
    by_location = {(s.path, s.line): s for s in result.findings}
    aws = by_location[("settings.py", 1)]
    assert aws.types == ["AWS Access Key"]
    assert aws.live
    assert aws.severity == "block"
    assert aws.masked == "AKIA********"
    assert by_location[("settings.py", 2)].live
    assert by_location[("deploy/id_rsa", 1)].types == ["Private Key"]
    keyword = by_location[("db.py", 1)]
    assert keyword.severity == "warn"
    assert not keyword.live
    encoded = json.dumps([s.masked for s in result.findings])
    assert AWS_ACCESS_KEY not in encoded
    assert AWS_SECRET_KEY not in encoded
    assert "correct-horse" not in encoded


def test_mask_keeps_only_public_prefixes() -> None:
    assert mask(AWS_ACCESS_KEY) == "AKIA********"
    assert mask("ghp_" + "a1B2c3D4e5" * 4) == "ghp_********"
    assert mask(AWS_SECRET_KEY) == "********"
    assert mask("AKIA") == "********"
    assert severity_of(["Public IP (ipv4)"]) == ("info", False)
    assert severity_of(["Hex High Entropy String", "Slack Token"]) == ("block", True)


def test_manifests_give_dependencies_with_purls(tmp_path: Path) -> None:
    lock = {
        "name": "web",
        "lockfileVersion": 3,
        "packages": {
            "": {"name": "web", "dependencies": {"left-pad": "^1.3.0"}},
            "node_modules/left-pad": {"version": "1.3.0"},
            "node_modules/ms": {"version": "2.1.3", "dev": True},
            "node_modules/@babel/core": {"version": "7.24.0", "dev": True},
            "node_modules/a/node_modules/ms": {"version": "2.0.0"},
            "node_modules/local": {"link": True},
        },
    }
    root = tree(
        tmp_path / "t",
        {
            "pyproject.toml": (
                '[project]\nname = "x"\ndependencies = ["httpx[http2]>=0.27", "attrs==23.2.0; python_version>\'3\'"]\n'
                '[project.optional-dependencies]\ndocs = ["Sphinx_RTD.Theme==2.0.0"]\n'
                '[dependency-groups]\ndev = ["pytest>=8"]\n'
            ),
            "Pipfile": '[packages]\nrich = "==13.7.1"\nclick = "*"\n[dev-packages]\nblack = {version = ">=24"}\n',
            "requirements-dev.txt": (
                "private-pkg @ https://user:tok3n@git.example.com/p.tar.gz\n"
                "mypy==1.10.0 \\\n    --hash=sha256:abc\n"
                "-e ./local\n"
                "./wheels/thing.whl\n"
            ),
            "web/package.json": json.dumps(
                {
                    "dependencies": {"left-pad": "^1.3.0", "mine": "git+https://user:tok3n@github.com/me/mine.git"},
                    "devDependencies": {"@babel/core": "~7.24.0"},
                }
            ),
            "web/package-lock.json": json.dumps(lock),
            "rust/Cargo.toml": '[dependencies]\nserde = "1"\nlocal = { path = "../local" }\n'
            'renamed = { package = "rand", version = "0.8" }\n',
            "rust/Cargo.lock": '[[package]]\nname = "serde"\nversion = "1.0.200"\n'
            'source = "registry+https://github.com/rust-lang/crates.io-index"\n\n'
            '[[package]]\nname = "rand"\nversion = "0.8.5"\n'
            'source = "registry+https://github.com/rust-lang/crates.io-index"\n\n'
            '[[package]]\nname = "libc"\nversion = "0.2.150"\n'
            'source = "registry+https://github.com/rust-lang/crates.io-index"\n\n'
            '[[package]]\nname = "fixture"\nversion = "0.1.0"\n',
            "node_modules/leftpad/package.json": '{"dependencies": {"should-not-appear": "1.0.0"}}',
            "broken/package.json": "{not json",
        },
    )
    scan = find_dependencies(root, build_inventory(root).files)
    purls = {(d.purl, d.scope, d.direct) for d in scan.dependencies}
    expected = {
        ("pkg:pypi/httpx", "required", True),
        ("pkg:pypi/attrs@23.2.0", "required", True),
        ("pkg:pypi/sphinx-rtd-theme@2.0.0", "optional", True),
        ("pkg:pypi/pytest", "dev", True),
        ("pkg:pypi/rich@13.7.1", "required", True),
        ("pkg:pypi/click", "required", True),
        ("pkg:pypi/black", "dev", True),
        ("pkg:pypi/private-pkg", "required", True),
        ("pkg:pypi/mypy@1.10.0", "required", True),
        ("pkg:npm/left-pad@1.3.0", "required", True),
        ("pkg:npm/mine", "required", True),
        ("pkg:npm/%40babel/core@7.24.0", "dev", True),
        ("pkg:npm/ms@2.1.3", "dev", False),
        ("pkg:npm/ms@2.0.0", "required", False),
        ("pkg:cargo/serde@1.0.200", "required", True),
        ("pkg:cargo/local", "required", True),
        ("pkg:cargo/rand@0.8.5", "required", True),
        ("pkg:cargo/libc@0.2.150", "required", False),
    }
    assert purls == expected
    assert scan.failed == ["broken/package.json"]
    dumped = json.dumps([d.version_spec for d in scan.dependencies])
    assert "tok3n" not in dumped


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        ("requests==2.31.0", ("requests", "2.31.0", "==2.31.0")),
        ("requests === 2.31.0", ("requests", "2.31.0", "=== 2.31.0")),
        ("requests==2.*", ("requests", None, "==2.*")),
        ("Django (>=4,<5)", ("Django", None, ">=4,<5")),
        ("numpy", ("numpy", None, None)),
        ("pkg @ https://example.com/x.whl", ("pkg", None, "direct reference")),
        ("not a requirement!", None),
    ],
)
def test_parse_pep508(requirement: str, expected: tuple[str, str | None, str | None] | None) -> None:
    assert parse_pep508(requirement) == expected


def test_authorship_without_git_history(tmp_path: Path, fixture_repo: Path) -> None:
    plain = tree(tmp_path / "plain", {"a.txt": "x"})
    result = collect_authorship(plain)
    assert not result.available
    assert result.note is not None
    assert "no git history" in result.note
    # A directory inside someone else's checkout must not borrow that checkout's history.
    nested = fixture_repo / "src"
    assert not collect_authorship(nested).available
    assert git_head(nested).commit is None


def test_authorship_ignores_a_gitfile_pointing_elsewhere(tmp_path: Path, fixture_repo: Path) -> None:
    root = tree(tmp_path / "t", {".git": f"gitdir: {fixture_repo / '.git'}\n", "a.txt": "x"})
    assert not collect_authorship(root).available


def test_authorship_counts_commits_per_author(fixture_repo: Path) -> None:
    result = collect_authorship(fixture_repo)
    assert result.available
    assert result.commits_total == 5
    by_email = {a.email: a for a in result.authors}
    assert by_email["alice@example.org"].commits == 3
    assert by_email["bob@example.net"].commits == 2
    assert by_email["bob@example.net"].name == "Bob Okafor"
    assert by_email["bob@example.net"].lines_added > 20
    assert result.first_commit is not None
    assert result.first_commit.isoformat() == "2024-01-10T09:00:00+00:00"
    truncated = collect_authorship(fixture_repo, limits=ScanLimits(max_commits=2))
    assert truncated.truncated
    assert truncated.commits_total == 2


def test_policy_verdicts() -> None:
    empty = Inventory(files_total=0, bytes_total=0, lines_total=0, code_lines_total=0, languages=[], files=[])
    assert evaluate(inventory=empty, detections=[], secrets=[]).verdict == "pass"
    mpl = LicenseDetection(
        path="a.c",
        license_expression_spdx="MPL-2.0",
        license_expression="mpl-2.0",
        category="weak-copyleft",
        copyleft=True,
        score=100.0,
        start_line=1,
        end_line=3,
    )
    unknown = LicenseDetection(
        path="b.c",
        license_expression_spdx="LicenseRef-scancode-unknown-license-reference",
        license_expression="unknown-license-reference",
        category="unknown",
        copyleft=False,
        score=80.0,
        start_line=1,
        end_line=1,
    )
    result = evaluate(inventory=empty, detections=[mpl, unknown], secrets=[])
    assert result.verdict == "warn"
    assert [(f.rule, f.severity) for f in result.findings] == [
        ("license.copyleft", "warn"),
        ("license.unknown", "info"),
    ]
    live = SecretFinding(path="x", line=1, types=["Private Key"], masked="********", live=True, severity="block")
    blocked = evaluate(inventory=empty, detections=[mpl], secrets=[live])
    assert blocked.verdict == "block"
    assert (blocked.counts.block, blocked.counts.warn, blocked.counts.info) == (1, 1, 0)
    assert blocked.findings[0].rule == "secret.live"

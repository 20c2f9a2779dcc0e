"""Fetching: URL validation, hardened clones through the test-only local path, and archive unpacking."""

from __future__ import annotations

import ipaddress
import os
import socket
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from services.audit.scanner import source
from services.audit.scanner.errors import (
    ArchiveRefused,
    AuditCancelled,
    FetchFailed,
    RepositoryRefused,
    RepositoryTooLarge,
)
from services.audit.scanner.limits import FetchLimits
from services.audit.scanner.source import (
    address_refusal,
    clone_command,
    clone_local_repository,
    clone_repository,
    git_environment,
    unpack_archive,
    validate_repo_url,
)
from tests.audit.fixtures import tar_bytes, zip_bytes

PUBLIC_V4 = "140.82.112.3"


def resolver_for(*addresses: str) -> Any:
    def resolve(host: str, port: int, family: int = 0, type: int = 0) -> Sequence[tuple[Any, ...]]:
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    return resolve


def failing_resolver(host: str, port: int, family: int = 0, type: int = 0) -> Sequence[tuple[Any, ...]]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


PUBLIC = resolver_for(PUBLIC_V4)


def test_accepts_and_normalises_a_public_https_url() -> None:
    assert validate_repo_url("HTTPS://GitHub.com/acme/tool.git", resolver=PUBLIC) == (
        "https://github.com/acme/tool.git"
    )
    assert validate_repo_url("https://github.com:443/acme/tool", resolver=PUBLIC) == "https://github.com/acme/tool"
    assert validate_repo_url("https://[2606:4700:4700::1111]/a/b") == "https://[2606:4700:4700::1111]/a/b"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "only https"),
        ("ext::sh -c touch% /tmp/pwned", "whitespace"),
        ("ext::sh", "remote-helper"),
        ("fd::17", "remote-helper"),
        ("ssh://git@github.com/acme/tool.git", "only https"),
        ("git@github.com:acme/tool.git", "scp-style"),
        ("-uhttps://github.com/acme/tool", "command-line option"),
        ("--upload-pack=touch /tmp/x", "whitespace"),
        ("--upload-pack=id", "command-line option"),
        ("http://github.com/acme/tool", "only https"),
        ("git://github.com/acme/tool", "only https"),
        ("https://user:pw@github.com/acme/tool", "credentials"),
        ("https://ghp_token@github.com/acme/tool", "credentials"),
        ("https://127.0.0.1/acme/tool", "loopback"),
        ("https://10.0.0.1/acme/tool", "private"),
        ("https://192.168.1.20/acme/tool", "private"),
        ("https://100.64.0.1/acme/tool", "non-public"),
        ("https://[::1]/acme/tool", "loopback"),
        ("https://[::ffff:127.0.0.1]/acme/tool", "loopback"),
        ("https://[fd00::1]/acme/tool", "private"),
        ("https://[fe80::1]/acme/tool", "link-local"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://0.0.0.0/acme/tool", "unspecified"),
        ("https://224.0.0.1/acme/tool", "multicast"),
        ("https://240.0.0.1/acme/tool", "reserved"),
        ("https://2130706433/acme/tool", "dotted-quad"),
        ("https://0x7f.1/acme/tool", "dotted-quad"),
        ("https://localhost/acme/tool", "loopback"),
        ("/etc/passwd", "local paths"),
        ("./repo", "local paths"),
        ("~/repo", "local paths"),
        ("C:\\repos\\tool", "local paths"),
        ("github.com/acme/tool", "only https"),
        ("https://github.com/acme/tool?ref=main", "query"),
        ("https://github.com/acme/tool#main", "fragment"),
        ("https://github.com/acme tool", "whitespace"),
        ("https://github.com/acme\ntool", "whitespace"),
        ("https://github.com/acme\x00tool", "control"),
        ("https://github.com/acme/%0atool", "control"),
        ("https://github.com:8443/acme/tool", "port"),
        ("https://github.com:99999/acme/tool", "invalid port"),
        ("https://github.com/", "no repository path"),
        ("https://github.com/acme/../../etc", ". or .."),
        ("https:///acme/tool", "no host"),
        ("https://exa_mple.com/acme/tool", "valid domain"),
        ("", "empty"),
    ],
)
def test_refuses_hostile_urls(url: str, reason: str) -> None:
    with pytest.raises(RepositoryRefused) as refused:
        validate_repo_url(url, resolver=PUBLIC)
    assert reason in refused.value.reason
    assert "pw" not in refused.value.reason
    assert refused.value.code == "repository_refused"


@pytest.mark.parametrize(
    ("addresses", "reason"),
    [
        (("127.0.0.1",), "loopback"),
        (("::1",), "loopback"),
        (("::ffff:10.1.2.3",), "private"),
        ((PUBLIC_V4, "10.0.0.7"), "private"),
        (("169.254.169.254",), "link-local"),
        (("2002:7f00:1::1",), "loopback"),
        (("64:ff9b::a9fe:a9fe",), "link-local"),
    ],
)
def test_refuses_names_that_resolve_to_internal_addresses(addresses: tuple[str, ...], reason: str) -> None:
    with pytest.raises(RepositoryRefused) as refused:
        validate_repo_url("https://git.evil.example/acme/tool", resolver=resolver_for(*addresses))
    assert reason in refused.value.reason
    assert "git.evil.example" in refused.value.reason


def test_refuses_unresolvable_hosts() -> None:
    with pytest.raises(RepositoryRefused, match="does not resolve"):
        validate_repo_url("https://nowhere.invalid/acme/tool", resolver=failing_resolver)


def test_allow_list_admits_a_self_hosted_forge_on_a_private_address() -> None:
    url = "https://git.corp.example:8443/team/tool.git"
    resolver = resolver_for("10.20.30.40")
    with pytest.raises(RepositoryRefused):
        validate_repo_url(url, resolver=resolver)
    allowed = frozenset({"git.corp.example"})
    assert validate_repo_url(url, allow_hosts=allowed, resolver=resolver) == url


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("172.16.0.1", "private"),
        ("192.0.2.1", "private"),
        ("2001:db8::1", "private"),
        ("ff02::1", "multicast"),
    ],
)
def test_address_classification(address: str, expected: str | None) -> None:
    assert address_refusal(ipaddress.ip_address(address)) == expected


def test_clone_command_is_hardened() -> None:
    argv = clone_command(
        "https://github.com/acme/tool", Path("/tmp/x"), branch="release/1.2", depth=50, config=["protocol.allow=never"]
    )
    assert argv[:3] == ["git", "-c", "protocol.allow=never"]
    for flag in ("--single-branch", "--no-recurse-submodules", "--depth=50", "--branch=release/1.2", "--no-tags"):
        assert flag in argv
    assert argv[-3:] == ["--", "https://github.com/acme/tool", "/tmp/x"]


@pytest.mark.parametrize("branch", ["--upload-pack=touch /tmp/x", "-b", "a..b", "main.lock", "x y", "a@{1}", ""])
def test_refuses_hostile_branch_names(branch: str) -> None:
    with pytest.raises(RepositoryRefused, match="branch"):
        clone_command("https://github.com/a/b", Path("/tmp/x"), branch=branch, depth=1, config=[])


def test_git_environment_inherits_no_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
    monkeypatch.setenv("GIT_SSH_COMMAND", "touch /tmp/pwned")
    env = git_environment(tmp_path, allow_protocol="https")
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert "GIT_SSH_COMMAND" not in env
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert env["HOME"] == str(tmp_path)
    assert env["GIT_ALLOW_PROTOCOL"] == "https"


def test_clone_repository_pins_resolved_addresses_and_https_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def fake_run_clone(url: str, dest: Path, **kwargs: Any) -> None:
        seen.update(url=url, dest=dest, **kwargs)

    monkeypatch.setattr(source, "_run_clone", fake_run_clone)
    clone_repository("https://Git.Example.com/acme/tool.git", tmp_path / "out", resolver=resolver_for(PUBLIC_V4))
    config = seen["config"]
    assert seen["url"] == "https://git.example.com/acme/tool.git"
    assert f"http.curloptResolve=git.example.com:443:{PUBLIC_V4}" in config
    assert "protocol.allow=never" in config
    assert "protocol.https.allow=always" in config
    assert "http.followRedirects=false" in config
    assert "core.hooksPath=/dev/null" in config
    assert not any("protocol.file" in item for item in config)


def test_clone_repository_refuses_before_running_git(tmp_path: Path) -> None:
    for url in ("file:///etc", str(tmp_path), "ext::sh -c id"):
        with pytest.raises(RepositoryRefused):
            clone_repository(url, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_local_clone_fetches_history(bare_repo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "clone"
    clone_local_repository(bare_repo, dest)
    assert (dest / ".git").is_dir()
    assert (dest / "src" / "checksum.py").is_file()
    assert not (dest / ".git" / "hooks").exists() or not any((dest / ".git" / "hooks").iterdir())


def test_local_clone_of_a_missing_repository_fails_cleanly(tmp_path: Path) -> None:
    missing = tmp_path / "secret-location" / "nope.git"
    dest = tmp_path / "clone"
    with pytest.raises(FetchFailed) as failed:
        clone_local_repository(missing, dest)
    assert failed.value.reason == "the repository was not found or is not publicly accessible"
    assert "secret-location" not in str(failed.value)
    assert not dest.exists()


def test_local_clone_of_a_missing_branch_fails_cleanly(bare_repo: Path, tmp_path: Path) -> None:
    with pytest.raises(FetchFailed, match="branch 'release' was not found"):
        clone_local_repository(bare_repo, tmp_path / "clone", branch="release")


def test_local_clone_requires_an_absolute_path(tmp_path: Path) -> None:
    with pytest.raises(FetchFailed, match="absolute"):
        clone_local_repository(Path("relative/repo"), tmp_path / "clone")


def test_clone_over_the_size_limit_is_stopped_and_removed(bare_repo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "clone"
    with pytest.raises(RepositoryTooLarge, match="larger than"):
        clone_local_repository(bare_repo, dest, limits=FetchLimits(max_repo_bytes=2048))
    assert not dest.exists()


def test_clone_into_a_non_empty_directory_is_refused(bare_repo: Path, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(FetchFailed, match="not empty"):
        clone_local_repository(bare_repo, tmp_path)
    assert (tmp_path / "keep.txt").exists()


def test_clone_can_be_cancelled(bare_repo: Path, tmp_path: Path) -> None:
    with pytest.raises(AuditCancelled):
        clone_local_repository(bare_repo, tmp_path / "clone", should_cancel=lambda: True)
    assert not (tmp_path / "clone").exists()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_unpacks_zip_and_strips_the_single_top_directory(tmp_path: Path) -> None:
    archive = write(
        tmp_path / "proj.zip",
        zip_bytes(
            {
                "proj-main/README.md": b"# hi\n",
                "proj-main/src/app.py": b"print(1)\n",
                "proj-main/.git/config": b"[core]\n\tfsmonitor = touch /tmp/pwned\n",
            },
            symlinks={"proj-main/src/alias.py": "app.py"},
        ),
    )
    dest = tmp_path / "out"
    unpack_archive(archive, dest)
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == ["README.md", "src", "src/app.py"]


def test_unpacks_tar_gz_and_plain_tar(tmp_path: Path) -> None:
    files = {"a/b/c.txt": b"c", "top.txt": b"t"}
    for name, compressed in (("x.tar.gz", True), ("x.tgz", True), ("x.tar", False)):
        dest = tmp_path / f"out-{name}"
        unpack_archive(write(tmp_path / name, tar_bytes(files, compressed=compressed)), dest)
        assert (dest / "a" / "b" / "c.txt").read_bytes() == b"c"
        assert (dest / "top.txt").read_bytes() == b"t"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("slip.zip", zip_bytes({"ok.txt": b"x", "../evil.txt": b"pwned"}), "escapes"),
        ("slip2.zip", zip_bytes({"a/../../evil.txt": b"pwned"}), "escapes"),
        ("slip3.zip", zip_bytes({"a\\..\\..\\evil.txt": b"pwned"}), "escapes"),
        ("abs.zip", zip_bytes({"/tmp/evil.txt": b"pwned"}), "absolute"),
        ("drive.zip", zip_bytes({"C:/evil.txt": b"pwned"}), "absolute"),
        ("slip.tar.gz", tar_bytes({"../evil.txt": b"pwned"}), "escapes"),
        ("abs.tar.gz", tar_bytes({"/etc/cron.d/evil": b"pwned"}), "absolute"),
        ("link.tar.gz", tar_bytes({"a.txt": b"x"}, symlinks={"etc": "../../../etc"}), "link"),
        ("abslink.tar.gz", tar_bytes({}, symlinks={"passwd": "/etc/passwd"}), "link"),
        ("hard.tar.gz", tar_bytes({}, hardlinks={"passwd": "/etc/passwd"}), "link"),
        ("hard2.tar.gz", tar_bytes({}, hardlinks={"passwd": "../outside"}), "link"),
        ("link.zip", zip_bytes({}, symlinks={"dir/passwd": "../../etc/passwd"}), "link"),
        ("dev.tar.gz", tar_bytes({}, devices=["null"]), "device"),
        ("dup.zip", zip_bytes({"a.txt": b"1", "./a.txt": b"2"}), "duplicate"),
        ("ctrl.zip", zip_bytes({"a\x01.txt": b"1"}), "control"),
        ("notes.rar", b"Rar!\x1a\x07\x00", "unsupported"),
        ("broken.zip", b"PK\x03\x04 definitely not a zip", "corrupt"),
        ("broken.tar.gz", b"\x1f\x8b\x08\x00garbage", "corrupt"),
    ],
)
def test_refuses_hostile_archives(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    dest = tmp_path / "out"
    with pytest.raises(ArchiveRefused) as refused:
        unpack_archive(write(tmp_path / name, data), dest)
    assert reason in refused.value.reason
    assert not (tmp_path / "evil.txt").exists()
    assert not dest.exists()


def test_refuses_zip_bomb_by_ratio(tmp_path: Path) -> None:
    archive = write(tmp_path / "bomb.zip", zip_bytes({"zeros.bin": bytes(20 * 1024 * 1024)}))
    assert archive.stat().st_size < 100_000
    with pytest.raises(ArchiveRefused, match="compression ratio"):
        unpack_archive(archive, tmp_path / "out")


def test_refuses_tar_gz_bomb_by_ratio(tmp_path: Path) -> None:
    archive = write(tmp_path / "bomb.tar.gz", tar_bytes({"zeros.bin": bytes(20 * 1024 * 1024)}))
    with pytest.raises(ArchiveRefused, match="compression ratio"):
        unpack_archive(archive, tmp_path / "out")


def test_refuses_archives_with_too_many_entries(tmp_path: Path) -> None:
    entries = {f"f{i}.txt": b"x" for i in range(60)}
    limits = FetchLimits(max_archive_entries=50)
    for name, data in (("many.zip", zip_bytes(entries)), ("many.tar.gz", tar_bytes(entries))):
        with pytest.raises(ArchiveRefused, match="more than 50 entries"):
            unpack_archive(write(tmp_path / name, data), tmp_path / f"out-{name}", limits=limits)


def test_refuses_archives_expanding_past_the_size_cap(tmp_path: Path) -> None:
    data = os.urandom(64 * 1024)
    limits = FetchLimits(max_unpacked_bytes=100 * 1024)
    for name, archive in (
        ("big.zip", zip_bytes({"a": data, "b": data})),
        ("big.tar", tar_bytes({"a": data, "b": data}, compressed=False)),
    ):
        with pytest.raises(ArchiveRefused, match="expands to more than"):
            unpack_archive(write(tmp_path / name, archive), tmp_path / f"out-{name}", limits=limits)


def test_refuses_encrypted_zip_entries(tmp_path: Path) -> None:
    data = bytearray(zip_bytes({"a.txt": b"hello"}))
    # Set the "encrypted" general-purpose flag in both the local header and the central directory.
    data[6] |= 0x1
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x1
    archive = write(tmp_path / "enc.zip", bytes(data))
    with zipfile.ZipFile(archive) as zf:
        assert zf.infolist()[0].flag_bits & 0x1
    with pytest.raises(ArchiveRefused, match="encrypted"):
        unpack_archive(archive, tmp_path / "out")

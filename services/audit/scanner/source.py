"""Getting the code to audit onto local disk: URL validation, hardened git clones, safe archive unpacking.

The repository URL comes from an untrusted user, so validation is strict (https only, public
addresses only) and the clone pins git to the addresses that were checked, which closes the gap
between our DNS lookup and git's own (DNS rebinding). `clone_local_repository` is the only way to
clone over the `file` transport; it exists for tests and the benchmark and takes a filesystem path,
never a user-supplied URL.
"""

from __future__ import annotations

import contextlib
import gzip
import ipaddress
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tarfile
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, Any, Final, NamedTuple
from urllib.parse import unquote, urlsplit

from services.audit.scanner.errors import (
    ArchiveRefused,
    AuditCancelled,
    FetchFailed,
    RepositoryRefused,
    RepositoryTooLarge,
)
from services.audit.scanner.limits import FetchLimits

Resolver = Callable[[str, int, int, int], Sequence[tuple[Any, ...]]]
"""`socket.getaddrinfo`-compatible: called as resolver(host, port, family, type)."""

HTTPS_PORT: Final = 443
_MAX_URL_LENGTH: Final = 2048
_COPY_CHUNK: Final = 1024 * 1024

_REMOTE_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_SCP_LIKE = re.compile(r"^[^/:]+:(?!//)")
_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+))*$")
_BRANCH = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)(?!.*@\{)[A-Za-z0-9._/+-]{1,200}(?<![./])(?<!\.lock)$")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _never() -> bool:
    return False


class _Target(NamedTuple):
    url: str
    host: str
    port: int
    addresses: tuple[str, ...]


def validate_repo_url(
    url: str,
    *,
    allow_hosts: frozenset[str] = frozenset(),
    resolver: Resolver = socket.getaddrinfo,
) -> str:
    """Return the normalised https URL, or raise `RepositoryRefused` saying why it is not acceptable.

    Accepts only `https://host[:443]/path` without credentials, query or fragment, whose host
    resolves exclusively to public unicast addresses. Hosts listed in `allow_hosts` (lower-case,
    exact match) may resolve to private addresses and use another port, for self-hosted forges.
    """
    return _check_repo_url(url, allow_hosts=allow_hosts, resolver=resolver).url


def _check_repo_url(url: str, *, allow_hosts: frozenset[str], resolver: Resolver) -> _Target:
    if not isinstance(url, str) or not url:
        raise RepositoryRefused("the repository URL is empty")
    if len(url) > _MAX_URL_LENGTH:
        raise RepositoryRefused(f"the repository URL is longer than {_MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise RepositoryRefused("the repository URL contains whitespace or control characters")
    if url.startswith("-"):
        raise RepositoryRefused("the repository URL looks like a command-line option")
    if _REMOTE_HELPER.match(url):
        raise RepositoryRefused("git remote-helper addresses (transport::address) are not accepted")
    if url.startswith(("/", "./", "../", "~", "\\")) or re.match(r"^[A-Za-z]:[\\/]", url):
        raise RepositoryRefused("local paths are not accepted; use an https:// URL")
    scheme = _SCHEME.match(url)
    if scheme is None or not url[scheme.end() :].startswith("//"):
        if _SCP_LIKE.match(url):
            raise RepositoryRefused("scp-style SSH addresses (user@host:path) are not accepted")
        raise RepositoryRefused("only https:// URLs are accepted")
    if scheme.group(1).lower() != "https":
        raise RepositoryRefused(f"only https:// URLs are accepted, not {scheme.group(1).lower()}://")

    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise RepositoryRefused("URLs with embedded credentials are not accepted")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise RepositoryRefused("the repository URL must not have a query string or fragment")
    try:
        port = parts.port or HTTPS_PORT
    except ValueError:
        raise RepositoryRefused("the repository URL has an invalid port") from None
    host = _normalise_host(parts.hostname or "")
    allowed = host in allow_hosts
    if port != HTTPS_PORT and not allowed:
        raise RepositoryRefused(f"only the standard https port {HTTPS_PORT} is accepted")

    path = unquote(parts.path)
    if not path.strip("/"):
        raise RepositoryRefused("the repository URL has no repository path")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path) or "\\" in path:
        raise RepositoryRefused("the repository path contains control characters or backslashes")
    if any(segment in {"..", "."} for segment in path.split("/")):
        raise RepositoryRefused("the repository path must not contain . or .. segments")

    addresses = _resolve_and_check(host, port, allowed=allowed, resolver=resolver)
    netloc = f"[{host}]" if ":" in host else host
    if port != HTTPS_PORT:
        netloc = f"{netloc}:{port}"
    return _Target(f"https://{netloc}{parts.path}", host, port, addresses)


def _normalise_host(raw: str) -> str:
    host = raw.rstrip(".").lower()
    if not host:
        raise RepositoryRefused("the repository URL has no host")
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).compressed
    if _NUMERIC_HOST.match(host):
        raise RepositoryRefused("numeric host names must be written as a dotted-quad IPv4 address")
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise RepositoryRefused("the host name is not a valid domain name") from None
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_DNS_LABEL.match(label) for label in labels):
        raise RepositoryRefused("the host name is not a valid domain name")
    if ascii_host == "localhost" or ascii_host.endswith(".localhost"):
        raise RepositoryRefused("the host is a loopback name")
    return ascii_host


def _resolve_and_check(host: str, port: int, *, allowed: bool, resolver: Resolver) -> tuple[str, ...]:
    try:
        literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        candidates = [literal]
    else:
        try:
            infos = resolver(host, port, 0, socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise RepositoryRefused(f"the host {host} does not resolve") from None
        candidates = []
        for info in infos:
            with contextlib.suppress(ValueError, IndexError, TypeError):
                # sockaddr[0] may carry an IPv6 scope id ("fe80::1%eth0"); the scope is irrelevant here.
                candidates.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
        if not candidates:
            raise RepositoryRefused(f"the host {host} does not resolve")
    if not allowed:
        for address in candidates:
            problem = address_refusal(address)
            if problem is None:
                continue
            if literal is not None:
                raise RepositoryRefused(f"{address} is a {problem} address")
            raise RepositoryRefused(f"the host {host} resolves to a {problem} address ({address})")
    return tuple(dict.fromkeys(a.compressed for a in candidates))


def address_refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why `address` must not be contacted (e.g. "loopback"), or None for a public unicast address.

    IPv6 forms that embed an IPv4 address (mapped, 6to4, Teredo, NAT64) are judged by the embedded
    address too, since a gateway may forward to it.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded: list[ipaddress.IPv4Address] = []
        if address.ipv4_mapped is not None:
            embedded.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            embedded.append(address.sixtofour)
        if address.teredo is not None:
            embedded.extend(address.teredo)
        if address in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        for inner in embedded:
            problem = address_refusal(inner)
            if problem is not None:
                return problem
        if address.ipv4_mapped is not None:
            return None
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "non-public"),
    )
    for failed, label in checks:
        if failed:
            return label
    return None


def validate_branch(branch: str) -> str:
    """Return `branch` if it is a plain branch name we can pass to git, else raise RepositoryRefused."""
    if not _BRANCH.match(branch):
        raise RepositoryRefused("the branch name is not a valid git branch name")
    return branch


def clone_repository(
    url: str,
    dest: Path,
    *,
    branch: str | None = None,
    limits: FetchLimits = FetchLimits(),
    should_cancel: Callable[[], bool] = _never,
    allow_hosts: frozenset[str] = frozenset(),
    resolver: Resolver = socket.getaddrinfo,
) -> None:
    """Shallow-clone the https repository at `url` into `dest` (which must not exist or be empty).

    The URL is validated again here (same rules as `validate_repo_url`) and git is pinned to the
    addresses that passed, with redirects off and every transport but https disabled.

    Raises RepositoryRefused, FetchFailed, RepositoryTooLarge or AuditCancelled; on any failure
    `dest` is left as it was found.
    """
    target = _check_repo_url(url, allow_hosts=allow_hosts, resolver=resolver)
    config = [*_HARDENING_CONFIG, "protocol.https.allow=always", "http.followRedirects=false"]
    if target.host not in target.addresses:
        pinned = ",".join(f"[{a}]" if ":" in a else a for a in target.addresses)
        config.append(f"http.curloptResolve={target.host}:{target.port}:{pinned}")
    _run_clone(target.url, dest, branch=branch, limits=limits, should_cancel=should_cancel, config=config)


def clone_local_repository(
    path: Path,
    dest: Path,
    *,
    branch: str | None = None,
    limits: FetchLimits = FetchLimits(),
    should_cancel: Callable[[], bool] = _never,
) -> None:
    """Clone a repository from this machine's filesystem, with the same hardening and limits.

    For tests and the benchmark only: it enables git's `file` transport, so it must never be
    reachable from a user-supplied URL. `path` must be absolute.
    """
    if not path.is_absolute():
        raise FetchFailed("local repositories must be given by absolute path")
    config = [*_HARDENING_CONFIG, "protocol.file.allow=always"]
    _run_clone(path.as_uri(), dest, branch=branch, limits=limits, should_cancel=should_cancel, config=config)


_HARDENING_CONFIG: Final = (
    "protocol.allow=never",
    "core.hooksPath=/dev/null",
    "core.symlinks=false",
    "core.fsmonitor=false",
    "credential.helper=",
    "submodule.recurse=false",
    "init.templateDir=",
)


def clone_command(url: str, dest: Path, *, branch: str | None, depth: int, config: Sequence[str]) -> list[str]:
    """The git argv for a hardened shallow clone (exposed so its flags can be asserted in tests)."""
    argv = ["git"]
    for item in config:
        argv += ["-c", item]
    argv += ["clone", "--quiet", "--no-tags", "--single-branch", "--no-recurse-submodules", "--template="]
    argv += [f"--depth={max(1, depth)}"]
    if branch is not None:
        argv.append(f"--branch={validate_branch(branch)}")
    argv += ["--", url, str(dest)]
    return argv


def git_environment(home: Path, *, allow_protocol: str) -> dict[str, str]:
    """A minimal environment for git: no inherited secrets, no prompts, no user/system config."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "LC_ALL": "C",
        "LANG": "C",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": shutil.which("true") or "/bin/true",
        "SSH_ASKPASS": shutil.which("true") or "/bin/true",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_ALLOW_PROTOCOL": allow_protocol,
        "GIT_PROTOCOL_FROM_USER": "0",
        "GIT_LFS_SKIP_SMUDGE": "1",
        "GIT_NO_REPLACE_OBJECTS": "1",
    }
    # Proxy and CA settings are deployment plumbing the clone may genuinely need.
    for name in ("https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _run_clone(
    url: str,
    dest: Path,
    *,
    branch: str | None,
    limits: FetchLimits,
    should_cancel: Callable[[], bool],
    config: Sequence[str],
) -> None:
    dest = dest.absolute()
    argv = clone_command(url, dest, branch=branch, depth=limits.clone_depth, config=config)
    existed = _prepare_empty_dir(dest, create=False)
    if should_cancel():
        raise AuditCancelled("clone cancelled")
    with tempfile.TemporaryDirectory(prefix="audit-git-home-") as home_dir:
        home = Path(home_dir)
        allow_protocol = "file" if url.startswith("file:") else "https"
        stderr_path = home / "stderr"
        ok = False
        try:
            with stderr_path.open("wb") as stderr:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    env=git_environment(home, allow_protocol=allow_protocol),
                    cwd=home,
                    start_new_session=True,
                )
                try:
                    returncode = _supervise(proc, dest, limits=limits, should_cancel=should_cancel)
                finally:
                    _kill_group(proc)
            if returncode != 0:
                message = stderr_path.read_text(errors="replace")
                raise FetchFailed(_describe_git_failure(message, branch))
            size = _tree_size(dest)
            if size > limits.max_repo_bytes:
                raise RepositoryTooLarge(_too_large_message(limits.max_repo_bytes))
            ok = True
        finally:
            if not ok:
                _discard(dest, existed=existed)


def _supervise(
    proc: subprocess.Popen[bytes], dest: Path, *, limits: FetchLimits, should_cancel: Callable[[], bool]
) -> int:
    deadline = time.monotonic() + limits.clone_timeout_s
    interval = 0.1
    while True:
        try:
            return proc.wait(timeout=interval)
        except subprocess.TimeoutExpired:
            pass
        if should_cancel():
            raise AuditCancelled("clone cancelled")
        if time.monotonic() > deadline:
            raise FetchFailed(f"cloning took longer than {limits.clone_timeout_s:g} s")
        started = time.monotonic()
        size = _tree_size(dest)
        if size > limits.max_repo_bytes:
            raise RepositoryTooLarge(_too_large_message(limits.max_repo_bytes))
        # Walking a large checkout is not free: poll less often the longer a walk takes.
        interval = min(2.0, max(0.25, 4 * (time.monotonic() - started)))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _too_large_message(limit: int) -> str:
    return f"the repository is larger than the {limit / (1024 * 1024):g} MiB limit"


def _describe_git_failure(stderr: str, branch: str | None) -> str:
    text = stderr.lower()
    if branch is not None and "remote branch" in text and "not found" in text:
        return f"branch {branch!r} was not found in the repository"
    if "could not resolve host" in text:
        return "the repository host could not be resolved"
    if any(s in text for s in ("failed to connect", "couldn't connect", "connection refused", "timed out")):
        return "could not connect to the repository host"
    if "redirect" in text or re.search(r"\b30[1278]\b", text):
        return "the repository URL redirects elsewhere; submit the final URL"
    if "ssl" in text or "certificate" in text:
        return "TLS error while talking to the repository host"
    not_found = (
        "not found",
        "does not exist",
        "does not appear to be a git repository",
        "authentication failed",
        "could not read username",
        "terminal prompts disabled",
        "403",
        "404",
    )
    if any(s in text for s in not_found):
        return "the repository was not found or is not publicly accessible"
    return "git clone failed"


def _tree_size(root: Path) -> int:
    total = 0
    stack = [str(root)]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        else:
                            total += entry.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:
                        continue
        except (FileNotFoundError, NotADirectoryError):
            continue
    return total


def _prepare_empty_dir(dest: Path, *, create: bool) -> bool:
    """Check `dest` is absent or an empty directory; return whether it existed."""
    if dest.is_symlink():
        raise FetchFailed("the destination must not be a symbolic link")
    if dest.exists():
        if not dest.is_dir() or any(dest.iterdir()):
            raise FetchFailed("the destination directory is not empty")
        return True
    if create:
        dest.mkdir(parents=True)
    return False


def _discard(dest: Path, *, existed: bool) -> None:
    if not dest.exists():
        return
    if not existed:
        shutil.rmtree(dest, ignore_errors=True)
        return
    for child in dest.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


ARCHIVE_SUFFIXES: Final = (".zip", ".tar.gz", ".tgz", ".tar")

# Directories never unpacked: untrusted git metadata can make later git commands run programs
# (core.fsmonitor, filters), and macOS resource forks are noise.
_SKIPPED_DIRS: Final = frozenset({".git", "__MACOSX"})


class _Budget:
    def __init__(self, archive_size: int, limits: FetchLimits, should_cancel: Callable[[], bool]) -> None:
        self.archive_size = max(1, archive_size)
        self.limits = limits
        self.should_cancel = should_cancel
        self.entries = 0
        self.declared = 0
        self.written = 0
        self.seen: set[PurePosixPath] = set()

    def count_entry(self) -> None:
        self.entries += 1
        if self.entries > self.limits.max_archive_entries:
            raise ArchiveRefused(f"the archive has more than {self.limits.max_archive_entries} entries")
        if self.should_cancel():
            raise AuditCancelled("unpacking cancelled")

    def declare(self, size: int) -> None:
        self.declared += size
        self._check(self.declared)

    def wrote(self, size: int) -> None:
        self.written += size
        self._check(self.written)

    def _check(self, total: int) -> None:
        limits = self.limits
        if total > limits.max_unpacked_bytes:
            mib = limits.max_unpacked_bytes / (1024 * 1024)
            raise ArchiveRefused(f"the archive expands to more than {mib:g} MiB")
        if total >= limits.ratio_check_min_bytes and total / self.archive_size > limits.max_compression_ratio:
            raise ArchiveRefused(
                f"the archive's compression ratio exceeds {limits.max_compression_ratio:g}:1 (zip bomb?)"
            )


def unpack_archive(
    archive: Path,
    dest: Path,
    *,
    limits: FetchLimits = FetchLimits(),
    should_cancel: Callable[[], bool] = _never,
) -> None:
    """Unpack a .zip, .tar.gz/.tgz or .tar upload into `dest` (absent or empty), refusing hostile input.

    Refused (ArchiveRefused, `dest` left as found): absolute or `..` paths, links pointing outside the
    archive, device/FIFO entries, duplicate entries, encrypted zip entries, more than
    `max_archive_entries` entries, more than `max_unpacked_bytes`, or a compression ratio above
    `max_compression_ratio`. Links that stay inside are skipped (never created), as are `.git` and
    `__MACOSX` directories. A single top-level directory is stripped.
    """
    name = archive.name.lower()
    if not name.endswith(ARCHIVE_SUFFIXES):
        raise ArchiveRefused("unsupported archive type; use .zip, .tar.gz, .tgz or .tar")
    existed = _prepare_empty_dir(dest, create=True)
    budget = _Budget(archive.stat().st_size, limits, should_cancel)
    ok = False
    try:
        if name.endswith(".zip"):
            _unpack_zip(archive, dest, budget)
        else:
            _unpack_tar(archive, dest, budget, compressed=not name.endswith(".tar"))
        _strip_single_top_dir(dest)
        ok = True
    except (zipfile.BadZipFile, tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error, UnicodeError):
        raise ArchiveRefused("the archive is corrupt or not of the type its name says") from None
    except OSError:
        raise ArchiveRefused("the archive could not be unpacked") from None
    finally:
        if not ok:
            _discard(dest, existed=existed)


def _member_path(name: str) -> PurePosixPath | None:
    """Safe relative path for an archive entry name; None if the entry is to be skipped."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ArchiveRefused("an archive entry name contains control characters")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise ArchiveRefused("an archive entry has an absolute path")
    parts = [p for p in re.split(r"[/\\]", name) if p not in {"", "."}]
    if ".." in parts:
        raise ArchiveRefused("an archive entry escapes the extraction directory (..)")
    if not parts or any(p in _SKIPPED_DIRS for p in parts):
        return None
    return PurePosixPath(*parts)


def _link_escapes(base: PurePosixPath, target: str) -> bool:
    if not target or target.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", target):
        return True
    stack = list(base.parts)
    for part in re.split(r"[/\\]", target):
        if part in {"", "."}:
            continue
        if part == "..":
            if not stack:
                return True
            stack.pop()
        else:
            stack.append(part)
    return False


def _check_link(member: PurePosixPath | None, raw_name: str, target: str, *, hard: bool) -> None:
    base = PurePosixPath() if hard else (member or PurePosixPath(raw_name)).parent
    if _link_escapes(base, target):
        raise ArchiveRefused("an archive entry is a link pointing outside the archive")


def _claim(path: PurePosixPath, budget: _Budget) -> None:
    if path in budget.seen:
        raise ArchiveRefused("the archive contains duplicate entries")
    budget.seen.add(path)


def _make_dir(dest: Path, rel: PurePosixPath) -> None:
    target = dest.joinpath(*rel.parts)
    try:
        target.mkdir(mode=0o755, parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ArchiveRefused("the archive has conflicting file and directory entries") from None


def _write_file(dest: Path, rel: PurePosixPath, source: IO[bytes], budget: _Budget) -> None:
    _claim(rel, budget)
    if len(rel.parts) > 1:
        _make_dir(dest, rel.parent)
    target = dest.joinpath(*rel.parts)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except (FileExistsError, IsADirectoryError, NotADirectoryError):
        raise ArchiveRefused("the archive has conflicting file and directory entries") from None
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(_COPY_CHUNK):
            budget.wrote(len(chunk))
            out.write(chunk)


def _unpack_zip(archive: Path, dest: Path, budget: _Budget) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > budget.limits.max_archive_entries:
            raise ArchiveRefused(f"the archive has more than {budget.limits.max_archive_entries} entries")
        # Declared sizes are checked up front so a bomb is refused before anything is written.
        for info in infos:
            budget.declare(info.file_size)
            ratio_floor = budget.limits.ratio_check_min_bytes
            if info.file_size >= ratio_floor and (
                info.compress_size == 0 or info.file_size / info.compress_size > budget.limits.max_compression_ratio
            ):
                raise ArchiveRefused(
                    "an archive entry's compression ratio exceeds "
                    f"{budget.limits.max_compression_ratio:g}:1 (zip bomb?)"
                )
        for info in infos:
            budget.count_entry()
            mode = info.external_attr >> 16
            rel = _member_path(info.filename)
            if stat.S_ISLNK(mode):
                target = zf.read(info)[:4096].decode("utf-8", errors="replace")
                _check_link(rel, info.filename, target, hard=False)
                continue
            if mode and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
                raise ArchiveRefused("the archive contains device, FIFO or socket entries")
            if rel is None:
                continue
            if info.is_dir():
                _make_dir(dest, rel)
                continue
            if info.flag_bits & 0x1:
                raise ArchiveRefused("encrypted archive entries are not supported")
            with zf.open(info) as source:
                _write_file(dest, rel, source, budget)


def _unpack_tar(archive: Path, dest: Path, budget: _Budget, *, compressed: bool) -> None:
    # Stream mode reads the archive once, front to back, and never seeks.
    with tarfile.open(archive, mode="r|gz" if compressed else "r|") as tf:
        for member in _iter_tar(tf):
            budget.count_entry()
            rel = _member_path(member.name)
            if member.issym() or member.islnk():
                _check_link(rel, member.name, member.linkname, hard=member.islnk())
                continue
            if member.ischr() or member.isblk() or member.isfifo():
                raise ArchiveRefused("the archive contains device or FIFO entries")
            if not (member.isdir() or member.isreg()):
                raise ArchiveRefused("the archive contains an unsupported entry type")
            if member.isreg():
                budget.declare(member.size)
            if rel is None:
                continue
            if member.isdir():
                _make_dir(dest, rel)
                continue
            source = tf.extractfile(member)
            if source is None:
                raise ArchiveRefused("the archive contains an unreadable entry")
            with source:
                _write_file(dest, rel, source, budget)


def _iter_tar(tf: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while (member := tf.next()) is not None:
        yield member


def _strip_single_top_dir(dest: Path) -> None:
    children = list(dest.iterdir())
    if len(children) != 1 or not children[0].is_dir() or children[0].is_symlink():
        return
    holder = dest / f".unpack-{secrets.token_hex(8)}"
    children[0].rename(holder)
    for child in holder.iterdir():
        child.rename(dest / child.name)
    holder.rmdir()

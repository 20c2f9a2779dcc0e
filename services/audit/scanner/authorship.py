"""Authorship from git history: commits, lines added/deleted and first/last commit per author.

Git is only run against a real `.git` directory at the tree root (never a `.git` file, which could
point anywhere, and never a repository found by walking up from the tree), with the same
config-free, prompt-free environment as the clone and with every config hook that could run a
program (fsmonitor, external diff, textconv) turned off.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, NamedTuple

from services.audit.scanner.errors import AuditCancelled
from services.audit.scanner.limits import ScanLimits
from services.audit.scanner.model import Authorship, AuthorStats
from services.audit.scanner.source import git_environment

_RECORD: Final = "\x1e"
_FIELD: Final = "\x1f"
_SAFE_CONFIG: Final = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "diff.external=",
    "core.pager=cat",
    "log.showSignature=false",
)


class _Author:
    def __init__(self, name: str, email: str, when: datetime) -> None:
        self.name = name
        self.email = email
        self.commits = 0
        self.added = 0
        self.deleted = 0
        self.files: set[str] = set()
        self.first = when
        self.last = when


class GitHead(NamedTuple):
    commit: str | None
    branch: str | None


def has_git_history(root: Path) -> bool:
    git_dir = root / ".git"
    return git_dir.is_dir() and not git_dir.is_symlink()


def _git(root: Path, *args: str) -> list[str]:
    argv = ["git", f"--git-dir={root / '.git'}", f"--work-tree={root}"]
    for item in _SAFE_CONFIG:
        argv += ["-c", item]
    return [*argv, *args]


def git_head(root: Path, *, timeout_s: float = 30.0) -> GitHead:
    """Checked-out commit SHA and branch name of the tree, when it is a git checkout."""
    if not has_git_history(root):
        return GitHead(None, None)
    with tempfile.TemporaryDirectory(prefix="audit-git-home-") as home_dir:
        home = Path(home_dir)
        env = git_environment(home, allow_protocol="")

        def run(*args: str) -> str | None:
            try:
                done = subprocess.run(
                    _git(root, *args),
                    capture_output=True,
                    text=True,
                    env=env,
                    cwd=home,
                    timeout=timeout_s,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                return None
            return done.stdout.strip() or None if done.returncode == 0 else None

        return GitHead(run("rev-parse", "--verify", "-q", "HEAD"), run("symbolic-ref", "--short", "-q", "HEAD"))


def collect_authorship(
    root: Path,
    *,
    limits: ScanLimits = ScanLimits(),
    should_cancel: Callable[[], bool] = lambda: False,
) -> Authorship:
    """Per-author statistics from `git log --numstat`; `available=False` with a note without history."""
    if not has_git_history(root):
        note = "no git history: the source is not a git checkout (e.g. an uploaded archive)"
        return Authorship(available=False, note=note)
    shallow = (root / ".git" / "shallow").is_file()
    with tempfile.TemporaryDirectory(prefix="audit-git-home-") as home_dir:
        home = Path(home_dir)
        argv = _git(
            root,
            "log",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--no-renames",
            "--use-mailmap",
            "--numstat",
            f"--max-count={limits.max_commits + 1}",
            f"--format={_RECORD}%H{_FIELD}%aN{_FIELD}%aE{_FIELD}%aI",
            "HEAD",
            "--",
        )
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=git_environment(home, allow_protocol=""),
            cwd=home,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        timed_out = threading.Event()

        def on_timeout() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(limits.git_timeout_s, on_timeout)
        timer.start()
        try:
            authors, commits, truncated = _parse_log(proc, limits.max_commits, should_cancel)
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
    if timed_out.is_set():
        return Authorship(available=False, note=f"git log took longer than {limits.git_timeout_s:g} s")
    if commits == 0:
        return Authorship(available=False, note="the git repository has no commits")
    return _summarise(authors, commits, shallow=shallow, truncated=truncated)


def _parse_log(
    proc: subprocess.Popen[str], max_commits: int, should_cancel: Callable[[], bool]
) -> tuple[dict[str, _Author], int, bool]:
    authors: dict[str, _Author] = {}
    current: _Author | None = None
    commits = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(_RECORD):
            if commits == max_commits:
                return authors, commits, True
            if commits % 256 == 0 and should_cancel():
                raise AuditCancelled()
            fields = line[1:].rstrip("\n").split(_FIELD)
            if len(fields) != 4:
                current = None
                continue
            _, name, email, date = fields
            when = _parse_date(date)
            key = (email or name).strip().lower()
            current = authors.get(key)
            if current is None:
                # git log is newest first: the first name seen is the author's latest spelling.
                current = authors[key] = _Author(name.strip(), email.strip(), when)
            current.commits += 1
            current.first = min(current.first, when)
            current.last = max(current.last, when)
            commits += 1
        elif current is not None and "\t" in line:
            added, deleted, path = line.rstrip("\n").split("\t", 2)
            with contextlib.suppress(ValueError):
                # Binary files show "-" for both counts; they still count as touched.
                current.added += int(added)
                current.deleted += int(deleted)
            current.files.add(path)
    return authors, commits, False


def _parse_date(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return datetime.fromtimestamp(0, UTC)


def _summarise(authors: dict[str, _Author], commits: int, *, shallow: bool, truncated: bool) -> Authorship:
    stats = [
        AuthorStats(
            name=a.name,
            email=a.email,
            commits=a.commits,
            lines_added=a.added,
            lines_deleted=a.deleted,
            files_touched=len(a.files),
            first_commit=a.first,
            last_commit=a.last,
        )
        for a in authors.values()
    ]
    stats.sort(key=lambda s: (-s.commits, -s.lines_added, s.email))
    notes = []
    if shallow:
        notes.append("history is shallow (clone depth limit); older commits are not counted")
    if truncated:
        notes.append("history has more commits than the configured maximum; older commits are not counted")
    return Authorship(
        available=True,
        note="; ".join(notes) or None,
        commits_total=commits,
        authors=stats,
        first_commit=min(s.first_commit for s in stats),
        last_commit=max(s.last_commit for s in stats),
        shallow=shallow,
        truncated=truncated,
    )

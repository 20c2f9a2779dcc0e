"""File inventory: every regular file with its size, hash, language and line counts.

Symbolic links are recorded but never followed (a cloned or unpacked tree is untrusted and a link
could point anywhere on the host). VCS metadata directories are not part of the inventory.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Final

from services.audit.scanner.errors import AuditCancelled, SourceTooLarge
from services.audit.scanner.limits import ScanLimits
from services.audit.scanner.model import FileEntry, Inventory, LanguageStats, SkippedPath

VCS_DIRS: Final = frozenset({".git", ".hg", ".svn", ".bzr"})

VENDORED_DIRS: Final = frozenset(
    {
        "vendor",
        "vendors",
        "node_modules",
        "bower_components",
        "jspm_packages",
        "third_party",
        "third-party",
        "thirdparty",
        "3rdparty",
        "Pods",
        "Carthage",
        "site-packages",
    }
)

BINARY_EXTENSIONS: Final = frozenset(
    {
        ".a", ".o", ".obj", ".so", ".dylib", ".dll", ".exe", ".lib", ".class", ".jar", ".war", ".ear",
        ".pyc", ".pyo", ".whl", ".egg", ".wasm", ".bin", ".dat", ".db", ".sqlite", ".zip", ".gz",
        ".tgz", ".bz2", ".xz", ".zst", ".7z", ".rar", ".tar", ".png", ".jpg", ".jpeg", ".gif", ".bmp",
        ".ico", ".webp", ".tif", ".tiff", ".pdf", ".mp3", ".mp4", ".wav", ".ogg", ".flac", ".mov",
        ".avi", ".mkv", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".psd", ".iso", ".dmg", ".deb",
        ".rpm", ".apk", ".ipa", ".nupkg", ".pdb", ".node",
    }
)  # fmt: skip

# Artefacts that embed compiled third-party code: worth a policy note when committed.
COMPILED_ARTEFACTS: Final = frozenset(
    {".a", ".o", ".so", ".dylib", ".dll", ".exe", ".lib", ".class", ".jar", ".war", ".ear", ".whl",
     ".egg", ".wasm", ".nupkg", ".node", ".apk", ".deb", ".rpm"}
)  # fmt: skip

LANGUAGES_BY_EXTENSION: Final[dict[str, str]] = {
    ".py": "Python", ".pyi": "Python", ".pyx": "Cython", ".ipynb": "Jupyter Notebook",
    ".js": "JavaScript", ".mjs": "JavaScript", ".cjs": "JavaScript", ".jsx": "JavaScript",
    ".ts": "TypeScript", ".tsx": "TypeScript", ".mts": "TypeScript", ".cts": "TypeScript",
    ".go": "Go", ".rs": "Rust", ".java": "Java", ".kt": "Kotlin", ".kts": "Kotlin", ".scala": "Scala",
    ".groovy": "Groovy", ".gradle": "Groovy", ".c": "C", ".h": "C", ".cc": "C++", ".cpp": "C++",
    ".cxx": "C++", ".hh": "C++", ".hpp": "C++", ".hxx": "C++", ".m": "Objective-C", ".mm": "Objective-C++",
    ".cs": "C#", ".fs": "F#", ".vb": "Visual Basic", ".swift": "Swift", ".rb": "Ruby", ".php": "PHP",
    ".pl": "Perl", ".pm": "Perl", ".lua": "Lua", ".r": "R", ".jl": "Julia", ".dart": "Dart",
    ".ex": "Elixir", ".exs": "Elixir", ".erl": "Erlang", ".hrl": "Erlang", ".hs": "Haskell",
    ".ml": "OCaml", ".mli": "OCaml", ".clj": "Clojure", ".cljs": "Clojure", ".elm": "Elm",
    ".zig": "Zig", ".nim": "Nim", ".sol": "Solidity", ".sh": "Shell", ".bash": "Shell", ".zsh": "Shell",
    ".fish": "Shell", ".ps1": "PowerShell", ".bat": "Batchfile", ".cmd": "Batchfile", ".sql": "SQL",
    ".html": "HTML", ".htm": "HTML", ".css": "CSS", ".scss": "SCSS", ".sass": "Sass", ".less": "Less",
    ".vue": "Vue", ".svelte": "Svelte", ".xml": "XML", ".xsl": "XML", ".svg": "SVG", ".json": "JSON",
    ".yaml": "YAML", ".yml": "YAML", ".toml": "TOML", ".ini": "INI", ".cfg": "INI", ".md": "Markdown",
    ".rst": "reStructuredText", ".tex": "TeX", ".txt": "Text", ".proto": "Protocol Buffers",
    ".graphql": "GraphQL", ".tf": "HCL", ".hcl": "HCL", ".cmake": "CMake", ".mk": "Makefile",
    ".dockerfile": "Dockerfile", ".j2": "Jinja", ".jinja": "Jinja", ".asm": "Assembly", ".s": "Assembly",
}  # fmt: skip

LANGUAGES_BY_NAME: Final[dict[str, str]] = {
    "makefile": "Makefile", "gnumakefile": "Makefile", "dockerfile": "Dockerfile",
    "containerfile": "Dockerfile", "cmakelists.txt": "CMake", "gemfile": "Ruby", "rakefile": "Ruby",
    "vagrantfile": "Ruby", "jenkinsfile": "Groovy", "pipfile": "TOML", "go.mod": "Go Module",
    "go.sum": "Go Module", "cargo.lock": "TOML", "build": "Starlark", "build.bazel": "Starlark",
}  # fmt: skip

_SNIFF_BYTES: Final = 8192
_CHUNK: Final = 1024 * 1024


def language_of(path: PurePosixPath) -> str | None:
    """Language guessed from the file name alone, or None."""
    name = path.name.lower()
    if name in LANGUAGES_BY_NAME:
        return LANGUAGES_BY_NAME[name]
    if name.startswith("dockerfile"):
        return "Dockerfile"
    return LANGUAGES_BY_EXTENSION.get(path.suffix.lower())


def is_vendored(path: PurePosixPath) -> bool:
    return any(part in VENDORED_DIRS for part in path.parts[:-1])


def build_inventory(
    root: Path,
    *,
    limits: ScanLimits = ScanLimits(),
    should_cancel: Callable[[], bool] = lambda: False,
) -> Inventory:
    """Walk `root` and describe every regular file; raise SourceTooLarge past `limits.max_files`."""
    files: list[FileEntry] = []
    skipped: list[SkippedPath] = []
    for rel, entry in _walk(root, skipped):
        if len(files) >= limits.max_files:
            raise SourceTooLarge(f"the source has more than {limits.max_files} files")
        if should_cancel():
            raise AuditCancelled()
        try:
            files.append(_describe(rel, Path(entry.path), entry.stat(follow_symlinks=False).st_size, limits))
        except OSError:
            skipped.append(SkippedPath(path=rel.as_posix(), reason="unreadable"))
    files.sort(key=lambda f: f.path)
    skipped.sort(key=lambda s: s.path)
    return Inventory(
        files_total=len(files),
        bytes_total=sum(f.size for f in files),
        lines_total=sum(f.lines for f in files),
        code_lines_total=sum(f.code_lines for f in files),
        languages=_language_totals(files),
        files=files,
        skipped=skipped,
    )


def _walk(root: Path, skipped: list[SkippedPath]) -> Iterator[tuple[PurePosixPath, os.DirEntry[str]]]:
    stack: list[tuple[str, PurePosixPath]] = [(str(root), PurePosixPath())]
    while stack:
        directory, rel_dir = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            skipped.append(SkippedPath(path=rel_dir.as_posix(), reason="unreadable"))
            continue
        subdirs: list[tuple[str, PurePosixPath]] = []
        for entry in entries:
            rel = rel_dir / entry.name
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                skipped.append(SkippedPath(path=rel.as_posix(), reason="unreadable"))
                continue
            if stat.S_ISLNK(mode):
                skipped.append(SkippedPath(path=rel.as_posix(), reason="symlink"))
            elif stat.S_ISDIR(mode):
                if entry.name not in VCS_DIRS:
                    subdirs.append((entry.path, rel))
            elif stat.S_ISREG(mode):
                yield rel, entry
            else:
                skipped.append(SkippedPath(path=rel.as_posix(), reason="special-file"))
        stack.extend(reversed(subdirs))


def _describe(rel: PurePosixPath, path: Path, size: int, limits: ScanLimits) -> FileEntry:
    digest = hashlib.sha256()
    binary = rel.suffix.lower() in BINARY_EXTENSIONS
    lines = code_lines = 0
    tail = b""
    # O_NOFOLLOW: the entry was a regular file when listed; refuse if it was swapped for a link since.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        first = True
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            if first:
                binary = binary or b"\0" in chunk[:_SNIFF_BYTES]
                first = False
            if binary:
                continue
            pieces = (tail + chunk).split(b"\n")
            tail = pieces.pop()
            lines += len(pieces)
            code_lines += sum(1 for piece in pieces if piece.strip())
    if tail and not binary:
        lines += 1
        code_lines += 1 if tail.strip() else 0
    if binary:
        lines = code_lines = 0
    skip_reason = "binary" if binary else ("too-large" if size > limits.max_scan_file_bytes else None)
    return FileEntry(
        path=rel.as_posix(),
        size=size,
        sha256=digest.hexdigest(),
        language=None if binary else language_of(rel),
        lines=lines,
        code_lines=code_lines,
        binary=binary,
        vendored=is_vendored(rel),
        scanned=skip_reason is None,
        skip_reason=skip_reason,
    )


def _language_totals(files: list[FileEntry]) -> list[LanguageStats]:
    totals: dict[str, list[int]] = {}
    for f in files:
        if f.language is None:
            continue
        acc = totals.setdefault(f.language, [0, 0, 0, 0])
        acc[0] += 1
        acc[1] += f.size
        acc[2] += f.lines
        acc[3] += f.code_lines
    stats = [
        LanguageStats(language=lang, files=v[0], bytes=v[1], lines=v[2], code_lines=v[3]) for lang, v in totals.items()
    ]
    stats.sort(key=lambda s: (-s.code_lines, s.language))
    return stats

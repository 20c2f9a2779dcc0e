"""Resource limits for fetching sources and for scanning them.

Both are plain msgspec structs so the service can load them from its settings; the defaults are
sized for the 2-core / few-GiB workers the audit service runs on.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

MiB = 1024 * 1024
GiB = 1024 * MiB


def _d(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text)


class FetchLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Caps applied while cloning a repository or unpacking an uploaded archive."""

    max_repo_bytes: Annotated[
        int, _d("Size of the clone directory (objects plus checkout) at which cloning is stopped.")
    ] = 1 * GiB
    clone_depth: Annotated[
        int, _d("`git clone --depth`: authorship needs history, but unbounded history costs time and disk.")
    ] = 1000
    clone_timeout_s: Annotated[float, _d("Wall-clock limit for one `git clone`.")] = 600.0
    max_unpacked_bytes: Annotated[int, _d("Total uncompressed size an archive may expand to.")] = 1 * GiB
    max_archive_entries: Annotated[int, _d("Number of entries (files, directories, links) an archive may hold.")] = (
        100_000
    )
    max_compression_ratio: Annotated[
        float, _d("Uncompressed/compressed ratio above which an archive (or one zip entry) is treated as a bomb.")
    ] = 100.0
    ratio_check_min_bytes: Annotated[
        int, _d("Below this many uncompressed bytes the ratio is not checked: small inputs cannot be bombs.")
    ] = 8 * MiB


class ScanLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Caps applied while auditing a tree that is already on disk."""

    max_files: Annotated[
        int, _d("Trees with more regular files than this are refused rather than audited partially.")
    ] = 100_000
    max_scan_file_bytes: Annotated[
        int, _d("Files larger than this are inventoried and hashed but not license/copyright/secret scanned.")
    ] = 512 * 1024
    per_file_timeout_s: Annotated[float, _d("ScanCode deadline per file for license and for copyright detection.")] = (
        20.0
    )
    max_commits: Annotated[int, _d("Authorship reads at most this many commits (newest first).")] = 100_000
    git_timeout_s: Annotated[float, _d("Wall-clock limit for the `git log` run by the authorship stage.")] = 300.0

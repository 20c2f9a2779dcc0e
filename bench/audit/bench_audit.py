"""Audit throughput and overhead: our `run_audit` against the same scanners called bare.

    .venv/bin/python -m bench.audit.bench_audit [--files 5000] [--seed 7] [--keep]

Generates a repository of `--files` source files (git init + one commit; Python, JavaScript,
TypeScript, Go, Rust, Java, C, Markdown, YAML; ~12 % carry a license header, a few hold fake
credentials, plus requirements.txt, package.json, go.mod and Cargo.toml), loads ScanCode's index once,
then measures in one process:

* ours: `run_audit` over the tree (all six stages, report assembled);
* bare: the same libraries with no pipeline around them: ScanCode `get_licenses` and
  `get_copyrights` on every text file, detect-secrets `scan_file` on every text file, and
  json/tomllib/line parsing of the four manifests.

It prints files scanned per second and the ratio ours ÷ bare, on CPU time of the process (robust when
other work shares the host) and on wall time. Because `run_audit` only runs copyright detection on
files containing a copyright marker, a "like-for-like" ratio charges the bare run only for copyright
detection on those same files, isolating the pipeline's own overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

from bench.common import record
from services.audit.scanner import run_audit
from services.audit.scanner.licenses import has_copyright_marker, scancode_version, warm_up
from services.audit.scanner.secrets import detect_secrets_version

MIT_HEADER = """Copyright (c) {year} {holder}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software."""

GPL_HEADER = """Copyright (C) {year} {holder}

This program is free software: you can redistribute it and/or modify
it under the terms of the GNU General Public License as published by
the Free Software Foundation, either version 3 of the License, or
(at your option) any later version."""

APACHE_SPDX = "SPDX-License-Identifier: Apache-2.0\nCopyright {year} {holder}"

HOLDERS = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov")
WORDS = ("user", "order", "cache", "token", "buffer", "report", "account", "queue", "index", "record")

LANGUAGES: dict[str, tuple[str, str]] = {
    ".py": ("# ", "def {name}(value: int) -> int:\n    total = value * {n}\n    return total + {m}\n"),
    ".js": ("// ", "function {name}(value) {{\n  const total = value * {n};\n  return total + {m};\n}}\n"),
    ".ts": ("// ", "export function {name}(value: number): number {{\n  return value * {n} + {m};\n}}\n"),
    ".go": ("// ", "func {name}(value int) int {{\n\ttotal := value * {n}\n\treturn total + {m}\n}}\n"),
    ".rs": ("// ", "pub fn {name}(value: i64) -> i64 {{\n    value * {n} + {m}\n}}\n"),
    ".java": ("// ", "    static int {name}(int value) {{\n        return value * {n} + {m};\n    }}\n"),
    ".c": ("// ", "int {name}(int value) {{\n    return value * {n} + {m};\n}}\n"),
    ".md": ("", "## {name}\n\nThe {name} step multiplies by {n} and adds {m}.\n"),
    ".yaml": ("# ", "{name}:\n  factor: {n}\n  offset: {m}\n"),
}

FAKE_SECRETS = (
    'AWS_ACCESS_KEY_ID = "AKIAZ3MHQ7RBXK4TLP2W"\n',
    'password = "correct-horse-battery-staple"\n',
    'slack = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"\n',
)


def header(rng: random.Random, prefix: str) -> str:
    template = rng.choice((MIT_HEADER, GPL_HEADER, APACHE_SPDX))
    text = template.format(year=rng.randint(2005, 2024), holder=rng.choice(HOLDERS))
    return "".join(f"{prefix}{line}".rstrip() + "\n" for line in text.splitlines()) + "\n"


def source_file(rng: random.Random, suffix: str, index: int) -> str:
    prefix, template = LANGUAGES[suffix]
    parts = []
    if rng.random() < 0.12:
        parts.append(header(rng, prefix))
    if index % 997 == 0:
        parts.append(FAKE_SECRETS[(index // 997) % len(FAKE_SECRETS)])
    for j in range(rng.randint(8, 30)):
        name = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{j}"
        parts.append(template.format(name=name, n=rng.randint(2, 999), m=rng.randint(0, 999)) + "\n")
    return "".join(parts)


def generate(root: Path, files: int, seed: int) -> None:
    rng = random.Random(seed)
    suffixes = list(LANGUAGES)
    manifests = {
        "requirements.txt": "requests==2.31.0\nflask>=2.0,<3\nnumpy\n",
        "package.json": json.dumps({"name": "bench", "dependencies": {"express": "^4.18.2", "left-pad": "1.3.0"}}),
        "go.mod": "module example.com/bench\n\ngo 1.21\n\nrequire github.com/pkg/errors v0.9.1\n",
        "Cargo.toml": '[package]\nname = "bench"\nversion = "0.1.0"\n\n[dependencies]\nserde = "1.0"\n',
    }
    for rel, content in manifests.items():
        (root / rel).write_text(content)
    for i in range(files - len(manifests)):
        suffix = suffixes[i % len(suffixes)]
        path = root / f"pkg{i % 50:02d}" / f"mod{(i // 50) % 10}" / f"file{i:05d}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source_file(rng, suffix, i))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root.parent),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "Bench Author",
        "GIT_AUTHOR_EMAIL": "bench@example.org",
        "GIT_COMMITTER_NAME": "Bench Author",
        "GIT_COMMITTER_EMAIL": "bench@example.org",
    }
    for argv in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "Generated tree"]):
        subprocess.run(argv, cwd=root, env=env, check=True)


def tree_files(root: Path) -> Iterator[Path]:
    for directory, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            yield Path(directory) / name


def bare_run(root: Path, *, limit: int | None = None) -> dict[str, float]:
    """The scanners called directly, no pipeline: CPU seconds per component (plus wall and file count)."""
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import default_settings
    from scancode.api import get_copyrights, get_licenses

    wall = time.perf_counter()
    timings = dict.fromkeys(("licenses", "copyrights", "copyrights_marked", "secrets", "manifests"), 0.0)
    paths = [p for p in tree_files(root) if b"\0" not in p.read_bytes()[:8192]][:limit]
    for path in paths:
        started = time.process_time()
        get_licenses(str(path))
        middle = time.process_time()
        get_copyrights(str(path))
        ended = time.process_time()
        timings["licenses"] += middle - started
        timings["copyrights"] += ended - middle
        if has_copyright_marker(path.read_bytes()):
            timings["copyrights_marked"] += ended - middle
    started = time.process_time()
    with default_settings():
        for path in paths:
            list(scan_file(str(path)))
    timings["secrets"] = time.process_time() - started
    started = time.process_time()
    json.loads((root / "package.json").read_text())
    tomllib.loads((root / "Cargo.toml").read_text())
    [line.split("==")[0] for line in (root / "requirements.txt").read_text().splitlines()]
    [line.split() for line in (root / "go.mod").read_text().splitlines() if line.startswith("require")]
    timings["manifests"] = time.process_time() - started
    timings["files"] = float(len(paths))
    timings["wall"] = time.perf_counter() - wall
    return timings


class StageClock:
    """CPU seconds per pipeline stage, from the stage transitions `run_audit` reports."""

    def __init__(self) -> None:
        self.starts: dict[str, float] = {}

    def __call__(self, stage: str, percent: int) -> None:
        self.starts.setdefault(stage, time.process_time())

    def durations(self, end: float) -> dict[str, float]:
        names = list(self.starts)
        bounds = [self.starts[n] for n in names] + [end]
        return {name: bounds[i + 1] - bounds[i] for i, name in enumerate(names)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5000, help="files in the generated repository")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the generated repository")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="audit-bench-"))
    root = workdir / "bench-repo"
    root.mkdir()
    try:
        started = time.perf_counter()
        generate(root, args.files, args.seed)
        generation = time.perf_counter() - started

        started = time.perf_counter()
        warm_up()
        # First calls still fault in parts of the 1.4 GB index and fill ScanCode's lazy caches;
        # pay that once, untimed, so neither measured run is charged for it.
        bare_run(root, limit=50)
        index_load = time.perf_counter() - started

        clock = StageClock()
        wall = time.perf_counter()
        cpu = time.process_time()
        report = run_audit(root, on_stage=clock)
        ours_cpu = time.process_time() - cpu
        ours_wall = time.perf_counter() - wall
        stages = clock.durations(cpu + ours_cpu)

        bare = bare_run(root)
        bare_cpu = bare["licenses"] + bare["copyrights"] + bare["secrets"] + bare["manifests"]
        like_for_like = bare["licenses"] + bare["copyrights_marked"] + bare["secrets"] + bare["manifests"]
        scanned = report.summary.files_scanned

        print(
            f"\nForgeTrace audit benchmark: {report.summary.files_total} files "
            f"({report.summary.code_lines} lines of code), {os.cpu_count()} CPUs, "
            f"ScanCode {scancode_version()}, detect-secrets {detect_secrets_version()}"
        )
        print(f"generation {generation:.1f} s; ScanCode index load + warm-up (once per process) {index_load:.1f} s")
        print("times are CPU seconds of this process unless marked wall (the host may be shared)\n")
        rows = [
            ("inventory", stages["inventory"], None),
            ("licenses + copyrights", stages["licenses"], bare["licenses"] + bare["copyrights"]),
            ("  of which licenses", None, bare["licenses"]),
            ("  of which copyrights", None, bare["copyrights"]),
            ("    on marked files", None, bare["copyrights_marked"]),
            ("secrets", stages["secrets"], bare["secrets"]),
            ("dependencies", stages["dependencies"], bare["manifests"]),
            ("authorship", stages["authorship"], None),
            ("policy + report", stages["policy"], None),
            ("total CPU", ours_cpu, bare_cpu),
            ("total wall", ours_wall, bare["wall"]),
        ]
        print(f"{'stage':<24}{'ours (s)':>12}{'bare (s)':>12}")
        print("-" * 48)
        for name, mine, theirs in rows:
            left = f"{mine:12.2f}" if mine is not None else f"{'':12}"
            right = f"{theirs:12.2f}" if theirs is not None else f"{'':12}"
            print(f"{name:<24}{left}{right}")
        print("-" * 48)
        print(f"{'files scanned':<24}{scanned:12d}{int(bare['files']):12d}")
        print(f"{'files / wall second':<24}{scanned / ours_wall:12.1f}{bare['files'] / bare['wall']:12.1f}")
        print(f"{'files / CPU second':<24}{scanned / ours_cpu:12.1f}{bare['files'] / bare_cpu:12.1f}")
        print(
            f"\ncopyright detection ran on {report.scan.copyright_files} of {scanned} files in ours "
            f"(marker pre-filter), on all {int(bare['files'])} in bare"
        )
        print(f"overhead ratio ours / bare (CPU):                 {ours_cpu / bare_cpu:.2f}")
        print(f"overhead ratio ours / bare (CPU, like-for-like):  {ours_cpu / like_for_like:.2f}")
        print(f"overhead ratio ours / bare (wall):                {ours_wall / bare['wall']:.2f}")
        shape = f"{scanned} files"
        record(
            "audit",
            f"files / wall second ({shape}) vs bare scanners",
            round(scanned / ours_wall, 1),
            unit="files/s",
            baseline=round(bare["files"] / bare["wall"], 1),
            ratio=round((scanned / ours_wall) / (bare["files"] / bare["wall"]), 3),
        )
        record(
            "audit",
            "whole audit CPU vs bare scanners",
            round(ours_cpu, 1),
            unit="s",
            baseline=round(bare_cpu, 1),
            ratio=round(ours_cpu / bare_cpu, 3),
        )
        record(
            "audit",
            "whole audit CPU vs bare (like-for-like)",
            round(ours_cpu, 1),
            unit="s",
            baseline=round(like_for_like, 1),
            ratio=round(ours_cpu / like_for_like, 3),
        )
        print(
            f"findings: verdict {report.summary.verdict}, {report.summary.licenses} license expressions, "
            f"{report.summary.secrets} secrets, {report.summary.dependencies} dependencies"
        )
    finally:
        if args.keep:
            print(f"\nrepository kept at {root}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark ghost against mat2 (cleaning) and exiftool (reading) on the generated corpus.

Run as ``python -m bench.ghost.bench_ghost``. For every format the corpus sample is copied
``--copies`` times; ghost cleans and reads the copies in-process, mat2 cleans them in one
``/usr/bin/mat2`` run per format and exiftool reads them in one ``exiftool -j`` run per format, so
each external tool pays its interpreter start-up once per format. Residual metadata is what
``exiftool -j -a -G1`` still reports on a cleaned file beyond the structural allow-list in
:mod:`bench.ghost.exiftool_allowlist`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.common import record
from bench.ghost.corpus import SAMPLE_NAMES, build_sample
from bench.ghost.exiftool_allowlist import residual_tags, run_exiftool
from services.ghost.core import extract_metadata, shred_file

MAT2 = "/usr/bin/mat2"


@dataclass
class Row:
    kind: str
    ghost_shred_s: float
    mat2_shred_s: float | None
    ghost_extract_s: float
    exiftool_extract_s: float
    residual_original: int
    residual_ghost: list[str]
    residual_mat2: list[str] | None
    mat2_note: str

    @property
    def shred_ratio(self) -> float | None:
        return self.ghost_shred_s / self.mat2_shred_s if self.mat2_shred_s else None

    @property
    def extract_ratio(self) -> float:
        return self.ghost_extract_s / self.exiftool_extract_s


def _timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, check=False)
    return time.perf_counter() - started, completed


def mat2_supports(path: Path) -> bool:
    completed = subprocess.run([MAT2, "--list"], capture_output=True, check=True, text=True)
    return any(f"{path.suffix.lower()}" in line for line in completed.stdout.splitlines() if "(" in line)


def bench_kind(kind: str, work: Path, copies: int) -> Row:
    source = build_sample(kind, work / "source")
    originals = []
    for index in range(copies):
        copy = work / "input" / f"{index}-{source.name}"
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)
        originals.append(copy)

    ghost_out = work / "ghost"
    ghost_out.mkdir()
    started = time.perf_counter()
    for path in originals:
        shred_file(path, ghost_out / path.name)
    ghost_shred = time.perf_counter() - started

    started = time.perf_counter()
    for path in originals:
        extract_metadata(path, filename=path.name)
    ghost_extract = time.perf_counter() - started
    exiftool_extract, _ = _timed(["exiftool", "-j", *map(str, originals)])

    mat2_shred: float | None = None
    mat2_cleaned: Path | None = None
    mat2_note = "format not supported"
    if shutil.which(MAT2) and mat2_supports(source):
        mat2_dir = work / "mat2"
        mat2_dir.mkdir()
        mat2_inputs = [Path(shutil.copyfile(path, mat2_dir / path.name)) for path in originals]
        elapsed, completed = _timed([MAT2, *map(str, mat2_inputs)])
        candidate = mat2_inputs[0].with_name(f"{mat2_inputs[0].stem}.cleaned{mat2_inputs[0].suffix}")
        if completed.returncode == 0 and candidate.exists():
            mat2_shred, mat2_cleaned, mat2_note = elapsed, candidate, "ok"
        else:
            errors = completed.stderr.decode(errors="replace").strip().splitlines()
            mat2_note = "refused: " + (errors[0] if errors else f"exit status {completed.returncode}")

    checked = [originals[0], ghost_out / originals[0].name] + ([mat2_cleaned] if mat2_cleaned else [])
    records = run_exiftool(checked)
    return Row(
        kind=kind,
        ghost_shred_s=ghost_shred,
        mat2_shred_s=mat2_shred,
        ghost_extract_s=ghost_extract,
        exiftool_extract_s=exiftool_extract,
        residual_original=len(residual_tags(records[checked[0]])),
        residual_ghost=sorted(residual_tags(records[checked[1]])),
        residual_mat2=sorted(residual_tags(records[mat2_cleaned])) if mat2_cleaned else None,
        mat2_note=mat2_note,
    )


def _cell(value: float | None, scale: float = 1.0, pattern: str = ".1f") -> str:
    return "-" if value is None else format(value * scale, pattern)


def print_table(rows: list[Row], copies: int) -> None:
    header = (
        f"{'format':<6} {'ghost shred':>11} {'mat2':>9} {'ratio':>6}  "
        f"{'ghost read':>10} {'exiftool':>9} {'ratio':>6}  {'residual: orig':>14} {'ghost':>6} {'mat2':>5}"
    )
    print(f"ghost vs mat2 / exiftool, {copies} copies per format, times in ms (ratio = ghost / other)")
    print(header)
    print("-" * len(header))
    for row in rows:
        mat2_residual = "-" if row.residual_mat2 is None else str(len(row.residual_mat2))
        print(
            f"{row.kind:<6} {row.ghost_shred_s * 1000:>11.1f} {_cell(row.mat2_shred_s, 1000):>9}"
            f" {_cell(row.shred_ratio, 1, '.3f'):>6}  {row.ghost_extract_s * 1000:>10.1f}"
            f" {row.exiftool_extract_s * 1000:>9.1f} {row.extract_ratio:>6.3f}"
            f"  {row.residual_original:>14} {len(row.residual_ghost):>6} {mat2_residual:>5}"
        )
    compared = [row for row in rows if row.mat2_shred_s]
    ghost_total = sum(row.ghost_shred_s for row in compared)
    mat2_total = sum(row.mat2_shred_s or 0.0 for row in compared)
    read_ratio = sum(row.ghost_extract_s for row in rows) / sum(row.exiftool_extract_s for row in rows)
    print("-" * len(header))
    record(
        "ghost",
        f"shred vs mat2 ({len(compared)} formats both clean)",
        round(ghost_total * 1000, 1),
        unit="ms",
        baseline=round(mat2_total * 1000, 1),
        ratio=round(ghost_total / mat2_total, 3),
    )
    exiftool_total = sum(row.exiftool_extract_s for row in rows)
    record(
        "ghost",
        f"extract vs exiftool -j ({len(rows)} formats)",
        round(sum(row.ghost_extract_s for row in rows) * 1000, 1),
        unit="ms",
        baseline=round(exiftool_total * 1000, 1),
        ratio=round(read_ratio, 3),
    )
    for row in rows:
        record(
            "ghost",
            f"  {row.kind}: extract vs exiftool",
            round(row.ghost_extract_s * 1000, 1),
            unit="ms",
            baseline=round(row.exiftool_extract_s * 1000, 1),
            ratio=round(row.extract_ratio, 3),
        )
    ghost_residue = sum(len(row.residual_ghost) for row in rows)
    record(
        "ghost",
        "residual tags after shred: ghost (all formats)",
        ghost_residue,
        target="== 0",
        passed=ghost_residue == 0,
    )
    record("ghost", "residual tags after shred: mat2", sum(len(row.residual_mat2 or []) for row in compared))
    print(f"shred time ghost/mat2, {len(compared)} formats both clean: {ghost_total / mat2_total:.3f}")
    print(f"extract time ghost/exiftool, all {len(rows)} formats: {read_ratio:.3f}")
    print(
        f"residual tags after cleaning: ghost {sum(len(row.residual_ghost) for row in rows)}, "
        f"mat2 {sum(len(row.residual_mat2 or []) for row in compared)} (on the {len(compared)} formats both clean)"
    )
    for row in rows:
        notes = []
        if row.mat2_note != "ok":
            notes.append(f"mat2 {row.mat2_note}")
        if row.residual_ghost:
            notes.append("ghost residue: " + ", ".join(row.residual_ghost))
        if row.residual_mat2:
            notes.append("mat2 residue: " + ", ".join(row.residual_mat2))
        if notes:
            print(f"  {row.kind}: " + "; ".join(notes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=5, help="copies of each sample to process")
    parser.add_argument("--json", type=Path, help="also write the measurements to this file")
    args = parser.parse_args()
    if shutil.which("exiftool") is None or shutil.which("ffmpeg") is None:
        raise SystemExit("the benchmark needs exiftool and ffmpeg on PATH")
    rows = []
    with tempfile.TemporaryDirectory(prefix="ghost-bench-") as scratch:
        for kind in SAMPLE_NAMES:
            work = Path(scratch) / kind
            work.mkdir()
            rows.append(bench_kind(kind, work, args.copies))
    print_table(rows, args.copies)
    if args.json:
        payload = [asdict(row) | {"shred_ratio": row.shred_ratio, "extract_ratio": row.extract_ratio} for row in rows]
        args.json.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()

"""Run the benchmarks (``make bench``) and print one summary table.

    python -m bench                  # every benchmark: auth, upload, ghost, sonic, audit (those present)
    python -m bench auth upload      # a subset, by package (or module) name
    python -m bench --list           # what would run

Every module ``bench/<package>/bench_*.py`` runs as its own subprocess
(``python -m bench.<package>.<module>``) with a timeout, its output shown as it comes. A
benchmark reports figures for the summary by appending JSON lines to the file named by
``$BENCH_RESULTS`` (see ``bench.common.record``); one that does not is still run, and the
summary says that it printed its own figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import RESULTS_ENV, table

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
ORDER = ("auth", "upload", "ghost", "sonic", "audit")
# Seconds before a benchmark is stopped (SIGTERM, then SIGKILL of its process group 30 s later).
TIMEOUTS = {"auth": 150.0, "upload": 300.0, "ghost": 900.0, "sonic": 1200.0, "audit": 1800.0}
DEFAULT_TIMEOUT = 1200.0
TERM_GRACE = 30.0


@dataclass
class Bench:
    package: str
    module: str
    timeout: float

    @property
    def dotted(self) -> str:
        return f"bench.{self.package}.{self.module}"


@dataclass
class Outcome:
    bench: Bench
    returncode: int | None
    seconds: float
    timed_out: bool
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.timed_out:
            return f"TIMEOUT after {self.bench.timeout:.0f} s"
        if self.returncode == 0:
            return f"ok ({self.seconds:.0f} s)"
        return f"exit {self.returncode} ({self.seconds:.0f} s)"


def discover() -> list[Bench]:
    packages = sorted(
        (p for p in BENCH_DIR.iterdir() if p.is_dir() and (p / "__init__.py").exists()),
        key=lambda p: (ORDER.index(p.name) if p.name in ORDER else len(ORDER), p.name),
    )
    found = []
    for package in packages:
        for module in sorted(package.glob("bench_*.py")):
            found.append(Bench(package.name, module.stem, TIMEOUTS.get(package.name, DEFAULT_TIMEOUT)))
    return found


def select(available: list[Bench], names: list[str]) -> list[Bench]:
    if not names:
        return available
    unknown = [n for n in names if not any(n in (b.package, b.module, b.dotted) for b in available)]
    if unknown:
        known = ", ".join(sorted({b.package for b in available}))
        raise SystemExit(f"unknown benchmark(s): {', '.join(unknown)} (known: {known})")
    return [b for b in available if any(n in (b.package, b.module, b.dotted) for n in names)]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the benchmark (it cleans up what it started), then SIGKILL its process group."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=TERM_GRACE)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # the group is the benchmark's own (start_new_session)
    process.wait()


def run_one(bench: Bench, results_dir: Path) -> Outcome:
    results = results_dir / f"{bench.package}.{bench.module}.jsonl"
    print(f"\n=== {bench.dotted} (timeout {bench.timeout:.0f} s) ===", flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", bench.dotted],
        cwd=REPO_ROOT,
        env={**os.environ, RESULTS_ENV: str(results)},
        start_new_session=True,
    )
    timed_out = False
    try:
        process.wait(timeout=bench.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        print(f"\n{bench.dotted}: timed out after {bench.timeout:.0f} s, stopping it", file=sys.stderr, flush=True)
        _stop(process)
    except BaseException:
        _stop(process)
        raise
    outcome = Outcome(bench, process.returncode, time.perf_counter() - started, timed_out)
    if results.exists():
        for line in results.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                outcome.results.append(json.loads(line))
    return outcome


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        text = f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.1f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def summary(outcomes: list[Outcome]) -> str:
    rows: list[list[object]] = []
    for outcome in outcomes:
        name = (
            outcome.bench.package if outcome.bench.module == f"bench_{outcome.bench.package}" else outcome.bench.dotted
        )
        for line in outcome.results:
            target = line.get("target") or ""
            passed = line.get("passed")
            if passed is not None:
                target = f"{target}  {'PASS' if passed else 'FAIL'}".strip()
            ratio = line.get("ratio")
            rows.append(
                [
                    name,
                    line.get("figure", ""),
                    _fmt(line.get("value"), line.get("unit", "")),
                    _fmt(line.get("baseline"), line.get("unit", "")),
                    _fmt(float(ratio)) if isinstance(ratio, int | float) else "",
                    target,
                ]
            )
        if not outcome.results:
            rows.append([name, "(printed its own figures above)", "", "", "", outcome.status])
        elif outcome.timed_out or outcome.returncode != 0:
            rows.append([name, "(run status)", "", "", "", outcome.status])
    return table(["benchmark", "figure", "value", "baseline", "ratio", "target"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help="benchmarks to run (package or module names); default: all")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per benchmark (overrides the defaults)")
    args = parser.parse_args(argv)

    chosen = select(discover(), args.names)
    if args.timeout is not None:
        for bench in chosen:
            bench.timeout = args.timeout
    if args.list:
        for bench in chosen:
            print(f"{bench.dotted:40} timeout {bench.timeout:.0f} s")
        return 0

    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="forge-bench-results-") as results_dir:
        for bench in chosen:
            outcomes.append(run_one(bench, Path(results_dir)))

    print("\n=== summary (ratios are measured within one run; see each benchmark's notes above) ===")
    print(summary(outcomes))
    failed = [o for o in outcomes if o.timed_out or o.returncode != 0]
    if failed:
        print("\nnot clean: " + ", ".join(f"{o.bench.dotted}: {o.status}" for o in failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Sonic: what the job system costs on top of transcription.

Run as ``python -m bench.sonic.bench_job [--seconds 60] [--rounds 2]``. One run generates a speech
clip with espeak-ng, starts ``forge serve --services auth,sonic --workers`` (NATS, a fresh
database and filesystem storage, as in production but on one machine), then alternates:

- a job through the platform: ``POST /upload`` → queued → worker → ``completed``, timed from
  the request to the moment the job reads ``completed`` (polled every 50 ms);
- a bare ``WhisperModel.transcribe`` of the same file with the same settings, in this process.

It reports the median job wall time ÷ the median bare time (target ≤ 1.15) and the real-time
factor of both (processing seconds ÷ audio seconds). The model load is outside both timings:
the worker loads it once at start, the bare side once before the first round.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from faster_whisper import WhisperModel

from bench.common import mark, platform, record, register_and_login, run
from bench.sonic.clips import make_speech_clip
from services.sonic.media import probe_media
from services.sonic.transcriber import WhisperSettings

BENCH = "sonic"
TARGET = 1.15


def bare_transcribe(model: WhisperModel, settings: WhisperSettings, path: Path) -> float:
    """The same work the worker does, without the job system: decode, transcribe, iterate segments."""
    start = time.perf_counter()
    segments, _ = model.transcribe(str(path), beam_size=settings.beam_size)
    for _ in segments:
        pass
    return time.perf_counter() - start


async def job_through_platform(client: httpx.AsyncClient, headers: dict[str, str], path: Path) -> float:
    start = time.perf_counter()
    r = await client.post(
        "/api/v1/trapdoor/sonic/upload", headers=headers, files={"file": (path.name, path.read_bytes())}
    )
    r.raise_for_status()
    job_id = r.json()["data"]["job_id"]
    while True:
        job = (await client.get(f"/api/v1/trapdoor/sonic/jobs/{job_id}", headers=headers)).json()["data"]
        if job["status"] in ("completed", "failed", "cancelled"):
            break
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - start
    if job["status"] != "completed":
        raise RuntimeError(f"job ended {job['status']}: {job.get('error')}")
    return elapsed


async def bench(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="forge-bench-sonic-"))
    clip = workdir / "speech.mp3"
    make_speech_clip(clip, float(args.seconds))
    duration = probe_media(clip, max_duration_s=3600).duration
    settings = WhisperSettings(cpu_threads=args.threads)
    model = await asyncio.to_thread(
        WhisperModel,
        settings.model_path,
        device=settings.device,
        compute_type=settings.compute_type,
        cpu_threads=settings.cpu_threads,
        local_files_only=True,
    )
    env = {"SONIC_CPU_THREADS": str(args.threads), "HF_HUB_OFFLINE": "1"}
    jobs: list[float] = []
    bares: list[float] = []
    async with (
        platform(["auth", "sonic"], storage="fs", extra_env=env, workers=True) as running,
        httpx.AsyncClient(base_url=running.base_url, timeout=300) as client,
    ):
        account = await register_and_login(client)
        await job_through_platform(client, account.headers, clip)  # warm-up: first job pays lazy imports
        for _ in range(args.rounds):
            jobs.append(await job_through_platform(client, account.headers, clip))
            bares.append(await asyncio.to_thread(bare_transcribe, model, settings, clip))
    job, bare = statistics.median(jobs), statistics.median(bares)
    ratio = job / bare
    passed = ratio <= TARGET
    print(f"clip: {duration:.1f} s of speech, {args.rounds} rounds, {args.threads} threads, int8, beam 1")
    print(f"{'':32} {'median s':>9} {'all runs':>24} {'RTF':>6}")
    print(
        f"{'job (upload -> completed)':32} {job:9.2f} {', '.join(f'{v:.2f}' for v in jobs):>24} {job / duration:6.3f}"
    )
    print(
        f"{'bare WhisperModel.transcribe':32} {bare:9.2f} {', '.join(f'{v:.2f}' for v in bares):>24} {bare / duration:6.3f}"
    )
    print(f"job ÷ bare = {ratio:.3f} (target <= {TARGET}) {mark(passed)}")
    record(
        BENCH,
        "job wall time (upload -> completed)",
        round(job, 3),
        unit="s",
        baseline=round(bare, 3),
        ratio=round(ratio, 3),
        target=f"<= {TARGET}",
        passed=passed,
    )
    record(BENCH, "real-time factor of a job", round(job / duration, 4), unit="x")
    return 0 if passed else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the generated speech clip")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    return run(lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main())

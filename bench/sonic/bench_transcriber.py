"""Overhead of our Transcriber over a bare faster-whisper call, on synthetic speech.

Run: .venv/bin/python -m bench.sonic.bench_transcriber [--seconds 60] [--repeats 3]

Both sides get the same model, settings and file; each is warmed up first, then runs alternate and
the fastest run of each is reported, which filters out noise from other processes on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# The model is loaded from disk; never let a missing file turn into a download attempt.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from faster_whisper import WhisperModel

from bench.common import record
from bench.sonic.clips import make_speech_clip
from bench.sonic.wer import word_error_rate
from services.sonic.media import probe_media
from services.sonic.transcriber import Transcriber, WhisperSettings


def _timed(run: Callable[[], str]) -> tuple[float, str]:
    started = time.perf_counter()
    text = run()
    return time.perf_counter() - started, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the speech clip")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each side")
    parser.add_argument("--beam-size", type=int, choices=(1, 5), default=WhisperSettings().beam_size)
    parser.add_argument("--word-timestamps", action="store_true")
    parser.add_argument("--vad", action="store_true")
    args = parser.parse_args()

    settings = WhisperSettings(beam_size=args.beam_size)
    with tempfile.TemporaryDirectory(prefix="sonic-bench-") as tmp:
        clip = Path(tmp) / "speech.mp3"
        warmup = Path(tmp) / "warmup.mp3"
        reference = make_speech_clip(clip, args.seconds)
        make_speech_clip(warmup, 5.0)

        started = time.perf_counter()
        info = probe_media(clip, max_duration_s=args.seconds + 1)
        probe_s = time.perf_counter() - started

        started = time.perf_counter()
        bare_model = WhisperModel(
            settings.model_path,
            device=settings.device,
            compute_type=settings.compute_type,
            cpu_threads=settings.cpu_threads,
            num_workers=settings.num_workers,
            local_files_only=True,
        )
        bare_load_s = time.perf_counter() - started
        started = time.perf_counter()
        ours_model = Transcriber(settings)
        ours_load_s = time.perf_counter() - started

        def bare(path: Path) -> str:
            segments, _ = bare_model.transcribe(
                str(path),
                beam_size=settings.beam_size,
                word_timestamps=args.word_timestamps,
                vad_filter=args.vad,
            )
            # transcribe() is lazy: the work happens while the segments are iterated.
            return " ".join(segment.text.strip() for segment in segments)

        def ours(path: Path) -> str:
            return ours_model.transcribe(
                path,
                word_timestamps=args.word_timestamps,
                vad=args.vad,
                on_progress=lambda percent, stage: None,
                should_cancel=lambda: False,
            ).text

        bare(warmup)
        ours(warmup)
        bare_times: list[float] = []
        ours_times: list[float] = []
        bare_text = ours_text = ""
        for _ in range(args.repeats):
            elapsed, bare_text = _timed(lambda: bare(clip))
            bare_times.append(elapsed)
            elapsed, ours_text = _timed(lambda: ours(clip))
            ours_times.append(elapsed)

    bare_best, ours_best = min(bare_times), min(ours_times)
    print(f"clip: {info.duration:.1f} s of espeak-ng speech, mp3 ({info.codec}, {info.sample_rate} Hz)")
    print(
        f"settings: model={Path(settings.model_path).parent.name}/{Path(settings.model_path).name} "
        f"device={settings.device} compute={settings.compute_type} threads={settings.cpu_threads} "
        f"beam={settings.beam_size} words={args.word_timestamps} vad={args.vad} repeats={args.repeats}"
    )
    print(f"model load: bare {bare_load_s:.2f} s, Transcriber {ours_load_s:.2f} s")
    print(f"probe_media (full decode): {probe_s:.3f} s")
    print(f"bare WhisperModel.transcribe: best {bare_best:.2f} s, median {statistics.median(bare_times):.2f} s")
    print(f"Transcriber.transcribe:       best {ours_best:.2f} s, median {statistics.median(ours_times):.2f} s")
    print(f"ratio ours / bare: {ours_best / bare_best:.3f}")
    print(
        f"real-time factor (processing / audio): bare {bare_best / info.duration:.3f}, ours {ours_best / info.duration:.3f}"
    )
    print(
        f"WER vs script: bare {word_error_rate(reference, bare_text):.1%}, "
        f"ours {word_error_rate(reference, ours_text):.1%}; same text: {bare_text == ours_text}"
    )
    record(
        "sonic",
        f"Transcriber vs bare WhisperModel ({info.duration:.0f} s clip)",
        round(ours_best, 3),
        unit="s",
        baseline=round(bare_best, 3),
        ratio=round(ours_best / bare_best, 3),
    )
    record("sonic", "Transcriber real-time factor", round(ours_best / info.duration, 3), unit="x")
    record("sonic", "WER vs script (ours)", round(word_error_rate(reference, ours_text) * 100, 1), unit="%")


if __name__ == "__main__":
    main()

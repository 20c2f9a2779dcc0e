"""Transcriber against the real bundled tiny.en model and real espeak-ng speech."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path

import msgspec
import pytest

from bench.sonic.wer import word_error_rate
from services.sonic.errors import InvalidMedia
from services.sonic.transcriber import (
    Stage,
    Transcriber,
    TranscriptionCancelled,
    UnsupportedLanguage,
    WhisperSettings,
)
from services.sonic.transcript import Transcript

from .conftest import AUDIO_FORMATS, FOX

MAX_WER = 0.25


@pytest.mark.parametrize("extension", AUDIO_FORMATS)
def test_transcribes_each_format_accurately(
    transcriber: Transcriber, fox_clips: dict[str, Path], fox_seconds: float, extension: str
) -> None:
    transcript = transcriber.transcribe(fox_clips[extension], language="en")
    assert word_error_rate(FOX, transcript.text) < MAX_WER, transcript.text
    assert transcript.language == "en"
    assert transcript.duration == pytest.approx(fox_seconds, abs=0.1)
    assert transcript.segments
    assert transcript.text == " ".join(segment.text for segment in transcript.segments)


def test_longer_speech_is_accurate(long_transcript: Transcript, long_clip: tuple[Path, str]) -> None:
    assert word_error_rate(long_clip[1], long_transcript.text) < MAX_WER, long_transcript.text
    assert len(long_transcript.segments) > 1


def test_segments_are_ordered_and_inside_the_audio(long_transcript: Transcript) -> None:
    segments = long_transcript.segments
    assert [segment.id for segment in segments] == list(range(len(segments)))
    for segment in segments:
        assert 0 <= segment.start <= segment.end <= long_transcript.duration + 0.5
        assert segment.text == segment.text.strip()
    assert all(a.start <= b.start for a, b in itertools.pairwise(segments))


def test_progress_is_monotonic_and_ends_at_100(transcriber: Transcriber, long_clip: tuple[Path, str]) -> None:
    events: list[tuple[float, Stage]] = []
    transcriber.transcribe(long_clip[0], on_progress=lambda percent, stage: events.append((percent, stage)))
    percents = [percent for percent, _ in events]
    stages = [stage for _, stage in events]
    assert percents == sorted(percents)
    assert all(0.0 <= percent <= 100.0 for percent in percents)
    assert events[0] == (0.0, "decoding")
    assert events[-1] == (100.0, "finalizing")
    assert percents.count(100.0) == 1
    # Stages come in order, and transcription reports intermediate steps.
    order = ["decoding", "transcribing", "finalizing"]
    assert [order.index(stage) for stage in stages] == sorted(order.index(stage) for stage in stages)
    assert len({percent for percent, stage in events if stage == "transcribing" and 0 < percent < 100}) > 1


def test_word_timestamps_when_asked(fox_transcript: Transcript) -> None:
    words = [word for segment in fox_transcript.segments for word in segment.words or ()]
    assert word_error_rate(FOX, " ".join(word.word for word in words)) < MAX_WER
    for segment in fox_transcript.segments:
        assert segment.words
        for word in segment.words:
            assert type(word.start) is float
            assert type(word.end) is float
            assert type(word.probability) is float
            assert segment.start - 0.05 <= word.start <= word.end <= segment.end + 0.05
            assert 0.0 <= word.probability <= 1.0
    # The stdlib encoder accepts only plain Python types, so this proves no numpy value leaked.
    decoded = json.loads(json.dumps(msgspec.to_builtins(fox_transcript)))
    assert decoded["segments"][0]["words"][0]["word"] == words[0].word


def test_no_words_unless_asked(transcriber: Transcriber, fox_clips: dict[str, Path]) -> None:
    transcript = transcriber.transcribe(fox_clips["wav"])
    assert all(segment.words is None for segment in transcript.segments)
    assert "words" not in msgspec.json.decode(msgspec.json.encode(transcript.segments[0]))


def test_vad_keeps_timestamps_on_the_original_timeline(
    transcriber: Transcriber, fox_clips: dict[str, Path], media_dir: Path
) -> None:
    from bench.sonic.clips import ffmpeg

    # Three seconds of silence first: with VAD skipping it, speech must still start near 3 s.
    padded = media_dir / "padded.wav"
    ffmpeg("-i", str(fox_clips["wav"]), "-af", "adelay=3000", str(padded))
    transcript = transcriber.transcribe(padded, vad=True, word_timestamps=True)
    assert word_error_rate(FOX, transcript.text) < MAX_WER
    first_word = transcript.segments[0].words[0] if transcript.segments[0].words else None
    assert first_word is not None
    assert first_word.start == pytest.approx(3.0, abs=0.6)


def test_cancel_between_segments(transcriber: Transcriber, long_clip: tuple[Path, str]) -> None:
    seen: list[float] = []
    with pytest.raises(TranscriptionCancelled):
        transcriber.transcribe(
            long_clip[0],
            on_progress=lambda percent, stage: seen.append(percent) if stage == "transcribing" else None,
            should_cancel=lambda: any(percent > 0 for percent in seen),
        )
    assert seen
    assert max(seen) < 99


def test_cancel_while_decoding(transcriber: Transcriber, long_clip: tuple[Path, str]) -> None:
    stages: list[Stage] = []
    with pytest.raises(TranscriptionCancelled):
        transcriber.transcribe(
            long_clip[0], on_progress=lambda _, stage: stages.append(stage), should_cancel=lambda: True
        )
    assert stages == ["decoding"]


def test_usable_after_cancel(transcriber: Transcriber, fox_clips: dict[str, Path]) -> None:
    with pytest.raises(TranscriptionCancelled):
        transcriber.transcribe(fox_clips["ogg"], should_cancel=lambda: True)
    assert word_error_rate(FOX, transcriber.transcribe(fox_clips["ogg"]).text) < MAX_WER


def test_waiting_caller_can_cancel(transcriber: Transcriber, long_clip: tuple[Path, str]) -> None:
    # One job at a time: a second caller waits, and may give up while waiting.
    started = threading.Event()
    release = threading.Event()
    outcome: list[Transcript] = []

    def first_job() -> None:
        def hold(percent: float, stage: Stage) -> None:
            started.set()
            release.wait(10)

        outcome.append(transcriber.transcribe(long_clip[0], on_progress=hold))

    worker = threading.Thread(target=first_job)
    worker.start()
    try:
        assert started.wait(10)
        with pytest.raises(TranscriptionCancelled, match="waiting"):
            transcriber.transcribe(long_clip[0], should_cancel=lambda: True)
    finally:
        release.set()
        worker.join(60)
    assert outcome


def test_unsupported_language(transcriber: Transcriber, fox_clips: dict[str, Path]) -> None:
    with pytest.raises(UnsupportedLanguage, match="'fr'"):
        transcriber.transcribe(fox_clips["wav"], language="fr")
    assert transcriber.supported_languages == ("en",)


def test_invalid_media_is_reported(transcriber: Transcriber, tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF nonsense" * 100)
    with pytest.raises(InvalidMedia):
        transcriber.transcribe(junk)


def test_missing_model_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="model directory"):
        Transcriber(WhisperSettings(model_path=str(tmp_path / "absent")))


def test_settings_default_to_the_bundled_model() -> None:
    settings = WhisperSettings()
    assert (Path(settings.model_path) / "model.bin").is_file()
    assert (settings.device, settings.compute_type, settings.cpu_threads, settings.num_workers) == (
        "cpu",
        "int8",
        2,
        1,
    )

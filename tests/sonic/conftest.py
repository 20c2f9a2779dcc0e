"""Fixtures for the sonic tests: real speech made with espeak-ng and one real Whisper model."""

from __future__ import annotations

import os

# Everything must work offline; set before faster-whisper (and huggingface_hub) are imported.
os.environ["HF_HUB_OFFLINE"] = "1"

import shutil
import wave
from pathlib import Path

import pytest

from bench.sonic.clips import convert, make_speech_clip, synthesize
from services.sonic.transcriber import Transcriber, WhisperSettings
from services.sonic.transcript import Transcript

FOX = "the quick brown fox jumps over the lazy dog and then runs into the forest"
AUDIO_FORMATS = ("wav", "mp3", "ogg", "flac", "m4a", "webm")

if shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None:
    pytest.exit("the sonic tests need espeak-ng and ffmpeg on PATH", returncode=1)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sonic-media")


@pytest.fixture(scope="session")
def fox_clips(media_dir: Path) -> dict[str, Path]:
    """The FOX sentence spoken once, as wav and re-encoded into each format of AUDIO_FORMATS."""
    wav = media_dir / "fox.wav"
    synthesize(FOX, wav)
    clips = {"wav": wav}
    for extension in AUDIO_FORMATS[1:]:
        clips[extension] = media_dir / f"fox.{extension}"
        convert(wav, clips[extension])
    return clips


@pytest.fixture(scope="session")
def fox_seconds(fox_clips: dict[str, Path]) -> float:
    """Length of the spoken FOX sentence, from the wav espeak-ng wrote."""
    with wave.open(str(fox_clips["wav"]), "rb") as reader:
        return reader.getnframes() / reader.getframerate()


@pytest.fixture(scope="session")
def long_clip(media_dir: Path) -> tuple[Path, str]:
    """About 20 s of several sentences, long enough for many segments; (path, spoken text)."""
    path = media_dir / "sentences.mp3"
    return path, make_speech_clip(path, 20.0)


@pytest.fixture(scope="session")
def transcriber() -> Transcriber:
    return Transcriber(WhisperSettings())


@pytest.fixture(scope="session")
def fox_transcript(transcriber: Transcriber, fox_clips: dict[str, Path]) -> Transcript:
    return transcriber.transcribe(fox_clips["mp3"], word_timestamps=True)


@pytest.fixture(scope="session")
def long_transcript(transcriber: Transcriber, long_clip: tuple[Path, str]) -> Transcript:
    return transcriber.transcribe(long_clip[0], word_timestamps=True)

"""Shared fixtures: one generated corpus per test session, plus tool availability markers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.ghost.corpus import build_sample
from bench.ghost.exiftool_allowlist import exiftool_available

AUDIO_SAMPLES = frozenset({"mp3", "flac", "ogg", "m4a"})

requires_exiftool = pytest.mark.skipif(not exiftool_available(), reason="exiftool is not installed")


class Corpus:
    """Samples with planted metadata, each built on first use and reused for the session."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._built: dict[str, Path] = {}

    def __getitem__(self, kind: str) -> Path:
        if kind not in self._built:
            if kind in AUDIO_SAMPLES and shutil.which("ffmpeg") is None:
                pytest.skip("ffmpeg is needed to build audio samples")
            self._built[kind] = build_sample(kind, self.directory / kind)
        return self._built[kind]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return Corpus(tmp_path_factory.mktemp("corpus"))

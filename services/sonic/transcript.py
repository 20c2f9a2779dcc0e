"""The transcript data model, kept free of model-loading imports so any process can render it."""

from __future__ import annotations

import msgspec


class Word(msgspec.Struct, frozen=True):
    word: str
    start: float
    end: float
    probability: float


class Segment(msgspec.Struct, frozen=True, omit_defaults=True):
    id: int
    """Position in the transcript, from 0."""
    start: float
    end: float
    text: str
    words: tuple[Word, ...] | None = None
    """Present only when word timestamps were requested."""


class Transcript(msgspec.Struct, frozen=True):
    language: str
    language_probability: float
    duration: float
    """Seconds of audio transcribed."""
    segments: tuple[Segment, ...]
    text: str

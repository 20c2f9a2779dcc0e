"""Errors raised by the sonic domain code; the API maps them to client-facing responses."""

from __future__ import annotations


class SonicError(Exception):
    """Base class for every error the sonic domain raises on purpose."""


class MediaError(SonicError):
    """The uploaded file cannot be accepted for transcription."""


class InvalidMedia(MediaError):
    """Not audio or video with a decodable audio track, or corrupt, or truncated."""


class MediaTooLong(MediaError):
    """The audio lasts longer than the configured limit.

    `duration` is the length found when probing stopped; when `exact` is false, decoding was
    abandoned at the limit and the real length is at least `duration`.
    """

    def __init__(self, duration: float, max_duration: float, *, exact: bool = True) -> None:
        self.duration = duration
        self.max_duration = max_duration
        self.exact = exact
        amount = f"{duration:.1f} s" if exact else f"more than {max_duration:g} s"
        super().__init__(f"media lasts {amount}; the limit is {max_duration:g} s")


class UnsupportedLanguage(SonicError, ValueError):
    """The requested language is not one the loaded model can transcribe."""

    def __init__(self, language: str, supported: tuple[str, ...]) -> None:
        self.language = language
        self.supported = supported
        listed = ", ".join(supported[:10]) + (", ..." if len(supported) > 10 else "")
        super().__init__(f"language {language!r} is not supported by this model (supported: {listed})")


class TranscriptionCancelled(SonicError):
    """`should_cancel` returned true; the job stopped without producing a transcript."""

"""Validating and decoding uploaded media with PyAV (FFmpeg's libraries, no ffmpeg binary needed).

Files are judged by decoding them, never by their name: a probe opens the container, requires an
audio stream and decodes all of it, which is what catches corrupt and truncated files and gives a
duration even when the container does not state one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import av.logging
import msgspec
import numpy as np
import numpy.typing as npt
from av.audio.fifo import AudioFifo
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.audio.stream import AudioStream
from av.container import InputContainer

from services.sonic.errors import InvalidMedia, MediaTooLong, TranscriptionCancelled

__all__ = [
    "ALLOWED_DEMUXERS",
    "InvalidMedia",
    "MediaInfo",
    "MediaTooLong",
    "decode_audio",
    "probe_media",
]

# Demuxers for audio files and for video files that carry an audio track. Everything else, notably
# playlists (hls, concat) that make FFmpeg open further files or URLs, image formats and raw
# formats, is refused before FFmpeg reads the stream headers.
ALLOWED_DEMUXERS: tuple[str, ...] = (
    "aac",
    "ac3",
    "aiff",
    "amr",
    "ape",
    "asf",
    "au",
    "avi",
    "caf",
    "eac3",
    "flac",
    "flv",
    "matroska",
    "mov",
    "mp3",
    "mpeg",
    "mpegts",
    "ogg",
    "w64",
    "wav",
    "wv",
)
_OPEN_OPTIONS = {"format_whitelist": ",".join(ALLOWED_DEMUXERS), "protocol_whitelist": "file"}

# FFmpeg prints this when it guessed the duration from the bit rate (e.g. VBR mp3 without a Xing
# header), so the stated duration cannot be used as evidence of truncation.
_ESTIMATED_DURATION_LOG = "Estimating duration from bitrate"

# How far decoded audio may fall short of the stated duration before the file counts as truncated.
# Audio durations are exact up to codec priming; a container-wide duration in a video file also
# covers the video track, which may legitimately run a little longer than the audio.
_AUDIO_SLACK_S, _AUDIO_SLACK_RATIO = 0.5, 0.005
_VIDEO_SLACK_S, _VIDEO_SLACK_RATIO = 2.0, 0.02

# Players skip the odd undecodable packet (junk before the first mp3 frame, a damaged frame), so
# a few are tolerated; more than that means the file is corrupt.
_BAD_PACKETS_ALLOWED, _BAD_PACKET_RATIO = 3, 0.01

_CANCEL_CHECK_EVERY_FRAMES = 64
# Resampling in large batches instead of frame by frame cuts decoding time by two thirds.
_RESAMPLE_BATCH_SAMPLES = 500_000

FfmpegLog = list[tuple[int, str, str]]


class MediaInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What a successful probe found out about a file."""

    duration: float
    """Seconds of audio that actually decode, not what the header claims."""
    container_format: str
    """FFmpeg demuxer name, e.g. ``mp3``, ``wav``, ``ogg``, ``mov,mp4,m4a,3gp,3g2,mj2``."""
    codec: str
    """Audio codec, e.g. ``mp3``, ``aac``, ``opus``, ``pcm_s16le``."""
    sample_rate: int
    channels: int
    has_video: bool
    declared_duration: float | None
    """Duration stated by the container, or None when it states none or only estimates it."""


def probe_media(path: Path, *, max_duration_s: float) -> MediaInfo:
    """Check that `path` is usable audio, or video with an audio track, by decoding it completely.

    Raises InvalidMedia when the file is not such media, fails to decode, or decodes to less than
    the duration its container states: truncation, or damage too large for FFmpeg to skip over
    (the odd bad packet is tolerated, as players tolerate it). Raises MediaTooLong when the audio
    lasts over `max_duration_s`; decoding stops as soon as the limit is passed. A missing file
    raises FileNotFoundError. Decoding runs at several hundred times real time: an hour of mp3
    takes a few seconds.

    Known blind spots: WAV and Ogg state no length that survives truncation (FFmpeg derives it
    from the bytes present), so a cut-short WAV or Ogg is accepted with its real, shorter length;
    likewise an mp3 without a Xing/VBRI header, whose stated length is only a bit-rate estimate.
    """
    if max_duration_s <= 0:
        raise ValueError("max_duration_s must be positive")
    if path.stat().st_size == 0:
        raise InvalidMedia("the file is empty")
    with _ffmpeg_log() as log, _open(path, log) as container:
        stream = _audio_stream(container)
        declared, container_wide = _declared_duration(container, stream, log)
        # A container-wide duration in a video file may be the video track's, longer than the audio.
        loose = container_wide and bool(container.streams.video)
        if declared is not None and declared > max_duration_s and not loose:
            raise MediaTooLong(declared, max_duration_s)
        decoded = 0.0
        for frame in _frames(container, stream, log):
            decoded += frame.samples / frame.sample_rate
            if decoded > max_duration_s:
                raise MediaTooLong(decoded, max_duration_s, exact=False)
        if decoded == 0.0:
            raise InvalidMedia("the audio stream contains no decodable audio")
        if declared is not None:
            slack_s, slack_ratio = (
                (_VIDEO_SLACK_S, _VIDEO_SLACK_RATIO) if loose else (_AUDIO_SLACK_S, _AUDIO_SLACK_RATIO)
            )
            if decoded < declared - max(slack_s, slack_ratio * declared):
                raise InvalidMedia(
                    f"the file is truncated or damaged: it should last {declared:.1f} s "
                    f"but only {decoded:.1f} s of audio decode"
                )
        codec_context = stream.codec_context
        return MediaInfo(
            duration=round(decoded, 3),
            container_format=container.format.name,
            codec=codec_context.codec.canonical_name,
            sample_rate=codec_context.sample_rate,
            channels=codec_context.layout.nb_channels,
            has_video=bool(container.streams.video),
            declared_duration=None if declared is None else round(declared, 3),
        )


def decode_audio(
    path: Path,
    *,
    sample_rate: int = 16_000,
    should_cancel: Callable[[], bool] = lambda: False,
) -> npt.NDArray[np.float32]:
    """Decode the first audio stream of `path` to mono float32 samples in [-1, 1] at `sample_rate`.

    Raises InvalidMedia on undecodable input and TranscriptionCancelled when `should_cancel`
    (polled every few dozen frames) returns true.
    """
    chunks: list[npt.NDArray[np.float32]] = []
    with _ffmpeg_log() as log, _open(path, log) as container:
        stream = _audio_stream(container)
        batcher: _Batcher | None = None
        for index, frame in enumerate(_frames(container, stream, log)):
            if index % _CANCEL_CHECK_EVERY_FRAMES == 0 and should_cancel():
                raise TranscriptionCancelled("cancelled while decoding")
            # FIFO and resampler are bound to one input format; streams such as chained Ogg can
            # change format midway, so the old pair is drained and replaced.
            if batcher is None or not batcher.accepts(frame):
                if batcher is not None:
                    chunks.extend(batcher.finish())
                batcher = _Batcher(frame, sample_rate)
            chunks.extend(batcher.push(frame))
        if batcher is not None:
            chunks.extend(batcher.finish())
    if not chunks:
        raise InvalidMedia("the audio stream contains no decodable audio")
    return np.concatenate(chunks)


class _Batcher:
    """Resamples one run of same-format frames to mono float32, in large batches for speed."""

    def __init__(self, first: AudioFrame, sample_rate: int) -> None:
        self._params = (first.format.name, first.layout.name, first.sample_rate)
        self._fifo = AudioFifo()
        self._resampler = AudioResampler(format="flt", layout="mono", rate=sample_rate)

    def accepts(self, frame: AudioFrame) -> bool:
        return (frame.format.name, frame.layout.name, frame.sample_rate) == self._params

    def push(self, frame: AudioFrame) -> list[npt.NDArray[np.float32]]:
        # Timestamps are not needed, and the FIFO rejects the gaps that damaged files have.
        frame.pts = None
        self._fifo.write(frame)
        if self._fifo.samples < _RESAMPLE_BATCH_SAMPLES:
            return []
        return self._convert(self._fifo.read())

    def finish(self) -> list[npt.NDArray[np.float32]]:
        rest = self._convert(self._fifo.read()) if self._fifo.samples else []
        return rest + self._convert(None)

    def _convert(self, batch: AudioFrame | None) -> list[npt.NDArray[np.float32]]:
        # Packed mono float comes out as a single row of samples.
        return [
            frame.to_ndarray().reshape(-1).astype(np.float32, copy=False) for frame in self._resampler.resample(batch)
        ]


@contextmanager
def _open(path: Path, log: FfmpegLog) -> Iterator[InputContainer]:
    try:
        container = av.open(str(path), mode="r", options=_OPEN_OPTIONS, metadata_errors="ignore")
    except av.FFmpegError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        refused = [name for _, name, message in log if "not on whitelist" in message]
        if refused:
            raise InvalidMedia(f"unsupported format: {refused[0]} is not an audio or video container") from exc
        raise InvalidMedia(f"not a recognised audio or video file ({_reason(exc, log)})") from exc
    try:
        yield container
    finally:
        container.close()


def _audio_stream(container: InputContainer) -> AudioStream:
    if not container.streams.audio:
        kinds: list[str] = sorted({stream.type for stream in container.streams})
        found = f"{', '.join(kinds)} streams only" if kinds else "no streams at all"
        raise InvalidMedia(f"the file has no audio stream ({found})")
    stream = container.streams.audio[0]
    if stream.codec_context is None or stream.codec_context.sample_rate <= 0:
        raise InvalidMedia("the audio stream has no usable codec parameters")
    return stream


def _declared_duration(container: InputContainer, stream: AudioStream, log: FfmpegLog) -> tuple[float | None, bool]:
    """The duration the file states, and whether it is container-wide rather than the stream's."""
    if any(_ESTIMATED_DURATION_LOG in message for _, _, message in log):
        return None, False
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base), False
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base, True
    return None, False


def _frames(container: InputContainer, stream: AudioStream, log: FfmpegLog) -> Iterator[AudioFrame]:
    """Decoded frames, skipping packets the decoder rejects as long as they stay rare."""
    position = 0.0
    packets = bad_packets = 0
    try:
        for packet in container.demux(stream):
            packets += 1
            try:
                frames = packet.decode()
            except av.InvalidDataError as exc:
                bad_packets += 1
                if bad_packets > max(_BAD_PACKETS_ALLOWED, _BAD_PACKET_RATIO * packets):
                    raise InvalidMedia(f"the audio is corrupt around {position:.1f} s ({_reason(exc, log)})") from exc
                continue
            for frame in frames:
                position += frame.samples / frame.sample_rate
                yield frame
    except av.FFmpegError as exc:
        raise InvalidMedia(f"the file cannot be read past {position:.1f} s ({_reason(exc, log)})") from exc


def _reason(exc: av.FFmpegError, log: FfmpegLog) -> str:
    errors = [message.strip() for level, _, message in log if level <= av.logging.ERROR]
    detail = errors[-1] if errors else None
    strerror = exc.strerror or type(exc).__name__
    return f"{strerror}: {detail}" if detail else strerror


_log_lock = threading.Lock()
_log_users = 0
_log_settings_before: tuple[int | None, bool] = (None, True)


@contextmanager
def _ffmpeg_log() -> Iterator[FfmpegLog]:
    """Collect the FFmpeg log lines emitted by this thread.

    PyAV discards FFmpeg's log unless a level is set, and drops a line identical to the previous
    one (which would hide a repeat of the same warning in the next file). Both settings are
    process-wide, so they are changed while any capture is open and restored when the last one
    closes; lines from other threads meanwhile go to the standard `libav` logger.
    """
    global _log_users, _log_settings_before
    with _log_lock:
        if _log_users == 0:
            _log_settings_before = (av.logging.get_level(), av.logging.get_skip_repeated())
            level = _log_settings_before[0]
            av.logging.set_level(av.logging.WARNING if level is None else max(level, av.logging.WARNING))
            av.logging.set_skip_repeated(False)
        _log_users += 1
    try:
        with av.logging.Capture() as log:
            yield log
    finally:
        with _log_lock:
            _log_users -= 1
            if _log_users == 0:
                av.logging.set_level(_log_settings_before[0])
                av.logging.set_skip_repeated(_log_settings_before[1])

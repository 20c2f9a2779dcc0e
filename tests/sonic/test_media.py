"""probe_media and decode_audio on real encoded speech and on files that must be refused."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from bench.sonic.clips import convert, ffmpeg, make_speech_clip
from services.sonic.media import InvalidMedia, MediaTooLong, decode_audio, probe_media
from services.sonic.transcriber import TranscriptionCancelled

from .conftest import AUDIO_FORMATS


def _png(path: Path) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixels = b"".join(b"\x00" + b"\xff\x00\x00" * 8 for _ in range(8))
    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b"")
    )
    return path


def _truncate(source: Path, target: Path, fraction: float) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


@pytest.mark.parametrize("extension", AUDIO_FORMATS)
def test_probe_accepts_each_audio_format(fox_seconds: float, fox_clips: dict[str, Path], extension: str) -> None:
    info = probe_media(fox_clips[extension], max_duration_s=60)
    assert info.duration == pytest.approx(fox_seconds, abs=0.1)
    assert info.sample_rate > 0
    assert info.channels == 1
    assert info.codec
    assert info.container_format
    assert not info.has_video


def test_probe_reports_codec_and_container(fox_clips: dict[str, Path]) -> None:
    mp3 = probe_media(fox_clips["mp3"], max_duration_s=60)
    assert (mp3.container_format, mp3.codec) == ("mp3", "mp3")
    assert mp3.declared_duration == pytest.approx(mp3.duration, abs=0.05)
    wav = probe_media(fox_clips["wav"], max_duration_s=60)
    assert (wav.container_format, wav.codec, wav.sample_rate) == ("wav", "pcm_s16le", 22050)
    m4a = probe_media(fox_clips["m4a"], max_duration_s=60)
    assert "mp4" in m4a.container_format.split(",")
    assert m4a.codec == "aac"


def test_probe_accepts_video_with_sound(fox_clips: dict[str, Path], media_dir: Path) -> None:
    video = media_dir / "talk.mp4"
    convert(fox_clips["wav"], video, "-f", "lavfi", "-i", "color=c=blue:s=64x64:d=4", "-shortest", "-c:v", "mpeg4")
    info = probe_media(video, max_duration_s=60)
    assert info.has_video
    assert info.duration == pytest.approx(4.0, abs=0.4)


def test_probe_finds_duration_missing_from_the_container(
    fox_seconds: float, fox_clips: dict[str, Path], media_dir: Path
) -> None:
    # Raw ADTS AAC states no duration; FFmpeg only guesses one from the bit rate.
    adts = media_dir / "fox.aac"
    convert(fox_clips["wav"], adts, "-c:a", "aac", "-f", "adts")
    info = probe_media(adts, max_duration_s=60)
    assert info.declared_duration is None
    assert info.duration == pytest.approx(fox_seconds, abs=0.1)


def test_text_file_named_mp3_is_invalid(tmp_path: Path) -> None:
    fake = tmp_path / "song.mp3"
    fake.write_text("this is not audio, whatever the name says\n" * 20)
    with pytest.raises(InvalidMedia, match="not a recognised audio or video file"):
        probe_media(fake, max_duration_s=60)


def test_png_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidMedia, match="png"):
        probe_media(_png(tmp_path / "picture.png"), max_duration_s=60)


def test_png_named_mp3_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidMedia):
        probe_media(_png(tmp_path / "picture.mp3"), max_duration_s=60)


def test_empty_file_is_invalid(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.touch()
    with pytest.raises(InvalidMedia, match="empty"):
        probe_media(empty, max_duration_s=60)


def test_video_without_sound_is_invalid(media_dir: Path) -> None:
    silent_film = media_dir / "silent.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=64x64:d=2", "-c:v", "mpeg4", str(silent_film))
    with pytest.raises(InvalidMedia, match="no audio stream"):
        probe_media(silent_film, max_duration_s=60)


def test_truncated_mp3_is_invalid(fox_clips: dict[str, Path], tmp_path: Path) -> None:
    cut = _truncate(fox_clips["mp3"], tmp_path / "cut.mp3", 0.6)
    with pytest.raises(InvalidMedia, match="truncated"):
        probe_media(cut, max_duration_s=60)


def test_truncated_long_mp3_is_invalid(long_clip: tuple[Path, str], tmp_path: Path) -> None:
    # Losing the last tenth of a longer file must be caught too, not only gross truncation.
    cut = _truncate(long_clip[0], tmp_path / "cut.mp3", 0.9)
    with pytest.raises(InvalidMedia, match="truncated"):
        probe_media(cut, max_duration_s=60)


@pytest.mark.parametrize("extension", ["flac", "m4a", "webm"])
def test_other_truncated_formats_are_invalid(fox_clips: dict[str, Path], tmp_path: Path, extension: str) -> None:
    cut = _truncate(fox_clips[extension], tmp_path / f"cut.{extension}", 0.6)
    with pytest.raises(InvalidMedia):
        probe_media(cut, max_duration_s=60)


@pytest.mark.parametrize("extension", ["mp3", "flac"])
def test_damaged_middle_is_invalid(fox_clips: dict[str, Path], tmp_path: Path, extension: str) -> None:
    data = bytearray(fox_clips[extension].read_bytes())
    start, end = len(data) // 4, len(data) * 3 // 4
    data[start:end] = (bytes(range(256)) * (len(data) // 256 + 1))[: end - start]
    damaged = tmp_path / f"damaged.{extension}"
    damaged.write_bytes(bytes(data))
    with pytest.raises(InvalidMedia, match=r"damaged|corrupt"):
        probe_media(damaged, max_duration_s=60)


def test_playlists_are_refused(fox_clips: dict[str, Path], tmp_path: Path) -> None:
    # An HLS playlist would make FFmpeg open the files it lists; uploads must never do that.
    playlist = tmp_path / "list.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:4.3,\n{fox_clips['mp3']}\n#EXT-X-ENDLIST\n")
    with pytest.raises(InvalidMedia):
        probe_media(playlist, max_duration_s=60)


def test_too_long_by_header(fox_seconds: float, fox_clips: dict[str, Path]) -> None:
    with pytest.raises(MediaTooLong, match="limit is 2 s") as caught:
        probe_media(fox_clips["mp3"], max_duration_s=2)
    assert caught.value.exact
    assert caught.value.duration == pytest.approx(fox_seconds, abs=0.1)
    assert caught.value.max_duration == 2


def test_too_long_found_by_decoding(media_dir: Path) -> None:
    # Without a stated duration, decoding stops as soon as it passes the limit.
    long_adts = media_dir / "long.aac"
    make_speech_clip(long_adts, 12.0)
    with pytest.raises(MediaTooLong, match="more than 5 s") as caught:
        probe_media(long_adts, max_duration_s=5)
    assert not caught.value.exact
    assert 5 < caught.value.duration < 6


def test_within_limit_is_accepted(long_clip: tuple[Path, str]) -> None:
    assert probe_media(long_clip[0], max_duration_s=20.5).duration == pytest.approx(20.0, abs=0.1)


def test_missing_file_is_not_invalid_media(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        probe_media(tmp_path / "nope.mp3", max_duration_s=60)


def test_decode_audio_gives_mono_16k_float(fox_seconds: float, fox_clips: dict[str, Path]) -> None:
    samples = decode_audio(fox_clips["ogg"], sample_rate=16_000)
    assert samples.dtype == np.float32
    assert samples.ndim == 1
    assert len(samples) / 16_000 == pytest.approx(fox_seconds, abs=0.05)
    assert 0.05 < float(np.abs(samples).max()) <= 1.0


def test_decode_audio_downmixes_stereo(fox_seconds: float, fox_clips: dict[str, Path], media_dir: Path) -> None:
    stereo = media_dir / "stereo.flac"
    convert(fox_clips["wav"], stereo, "-ac", "2", "-ar", "44100")
    samples = decode_audio(stereo, sample_rate=16_000)
    assert samples.ndim == 1
    assert len(samples) / 16_000 == pytest.approx(fox_seconds, abs=0.05)


def test_decode_audio_can_be_cancelled(fox_clips: dict[str, Path]) -> None:
    with pytest.raises(TranscriptionCancelled):
        decode_audio(fox_clips["mp3"], should_cancel=lambda: True)


def test_decode_audio_rejects_non_audio(tmp_path: Path) -> None:
    with pytest.raises(InvalidMedia):
        decode_audio(_png(tmp_path / "picture.png"))


def test_junk_before_mp3_frames_is_tolerated(fox_seconds: float, fox_clips: dict[str, Path], tmp_path: Path) -> None:
    # Players skip leading garbage (e.g. from a badly cut stream) and so do we.
    junky = tmp_path / "junky.mp3"
    junky.write_bytes(b"\x00\xff\xfb" * 100 + fox_clips["mp3"].read_bytes())
    assert probe_media(junky, max_duration_s=60).duration == pytest.approx(fox_seconds, abs=0.15)

"""Transcript renderings, checked with independent parsers, and the zip package."""

from __future__ import annotations

import hashlib
import html
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest
import srt
import webvtt

from services.sonic.outputs import (
    TRANSCRIPT_FORMATS,
    OutputFormat,
    build_package_zip,
    render,
    render_json,
    render_srt,
    render_txt,
    render_vtt,
    write_package_zip,
)
from services.sonic.transcript import Segment, Transcript, Word


def _transcript(*segments: tuple[float, float, str]) -> Transcript:
    parts = tuple(
        Segment(id=index, start=start, end=end, text=text) for index, (start, end, text) in enumerate(segments)
    )
    return Transcript(
        language="en",
        language_probability=1.0,
        duration=max((end for _, end, _ in segments), default=0.0),
        segments=parts,
        text=" ".join(text for _, _, text in segments),
    )


def _parse_vtt(text: str) -> list[webvtt.Caption]:
    return list(webvtt.from_buffer(io.StringIO(text)).captions)


def _vtt_seconds(stamp: str) -> float:
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_srt_and_vtt_agree_with_the_transcript(long_transcript: Transcript) -> None:
    cues = list(srt.parse(render_srt(long_transcript)))
    captions = _parse_vtt(render_vtt(long_transcript))
    spoken = [segment for segment in long_transcript.segments if segment.text]
    assert len(cues) == len(captions) == len(spoken) > 1
    assert [cue.index for cue in cues] == list(range(1, len(spoken) + 1))
    for cue, caption, segment in zip(cues, captions, spoken, strict=True):
        assert cue.start.total_seconds() == pytest.approx(segment.start, abs=0.0005)
        assert cue.end.total_seconds() == pytest.approx(segment.end, abs=0.0005)
        assert _vtt_seconds(caption.start) == pytest.approx(cue.start.total_seconds(), abs=0.0005)
        assert _vtt_seconds(caption.end) == pytest.approx(cue.end.total_seconds(), abs=0.0005)
        assert cue.content == caption.text == segment.text


def test_timestamp_formats() -> None:
    transcript = _transcript((0.0, 1.5, "first"), (3661.0015, 3723.25, "an hour later"))
    srt_text = render_srt(transcript)
    vtt_text = render_vtt(transcript)
    assert srt_text.startswith("1\n00:00:00,000 --> 00:00:01,500\nfirst\n\n2\n01:01:01,002 --> 01:02:03,250\n")
    assert vtt_text.startswith("WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.500\nfirst\n\n")
    assert "01:01:01.002 --> 01:02:03.250\nan hour later\n" in vtt_text
    assert list(srt.parse(srt_text))[1].start == timedelta(hours=1, minutes=1, seconds=1, milliseconds=2)


def test_awkward_text_survives_both_subtitle_formats() -> None:
    transcript = _transcript((0.0, 1.0, "a <b> & c --> d"), (1.0, 1.0, "zero   length\n\ncue"), (2.0, 3.0, "   "))
    cues = list(srt.parse(render_srt(transcript)))
    captions = _parse_vtt(render_vtt(transcript))
    # The empty cue is left out of both; the zero-length one is stretched so parsers accept it.
    assert len(cues) == len(captions) == 2
    assert cues[1].content == "zero length cue"
    assert cues[1].end > cues[1].start
    assert "&lt;b&gt; &amp; c --&gt; d" in render_vtt(transcript)
    # webvtt-py leaves character references alone; a browser decodes them like this.
    assert html.unescape(captions[0].text) == cues[0].content == "a <b> & c --> d"


def test_empty_transcript_renders() -> None:
    empty = _transcript()
    assert render_txt(empty) == ""
    assert list(srt.parse(render_srt(empty))) == []
    assert _parse_vtt(render_vtt(empty)) == []


def test_txt_has_a_line_per_segment(fox_transcript: Transcript) -> None:
    lines = render_txt(fox_transcript).splitlines()
    assert lines == [segment.text for segment in fox_transcript.segments]


def test_json_round_trips_with_words(fox_transcript: Transcript) -> None:
    text = render_json(fox_transcript)
    document = json.loads(text)
    assert set(document) == {"language", "language_probability", "duration", "segments", "text"}
    first = document["segments"][0]
    assert {"id", "start", "end", "text", "words"} <= set(first)
    assert set(first["words"][0]) == {"word", "start", "end", "probability"}
    assert msgspec.json.decode(text, type=Transcript) == fox_transcript


def test_json_omits_words_when_absent() -> None:
    document = json.loads(render_json(_transcript((0.0, 1.0, "hi"))))
    assert "words" not in document["segments"][0]


def test_output_format_metadata() -> None:
    assert {fmt.value for fmt in OutputFormat} == {"txt", "srt", "vtt", "json", "zip"}
    assert OutputFormat("srt").extension == ".srt"
    assert OutputFormat.VTT.media_type.startswith("text/vtt")
    assert OutputFormat.JSON.media_type == "application/json"
    assert OutputFormat.ZIP.media_type == "application/zip"
    assert OutputFormat.ZIP not in TRANSCRIPT_FORMATS
    with pytest.raises(ValueError, match="not a text format"):
        render(_transcript(), OutputFormat.ZIP)


def test_render_gives_utf8_bytes() -> None:
    transcript = _transcript((0.0, 1.0, "café"))
    for fmt in TRANSCRIPT_FORMATS:
        assert "café" in render(transcript, fmt).decode("utf-8")


def test_package_holds_manifest_original_and_every_format(
    fox_transcript: Transcript, fox_clips: dict[str, Path]
) -> None:
    original = fox_clips["mp3"]
    job = {"job_id": "5b0c", "owner": "alice", "options": {"word_timestamps": True}}
    package = build_package_zip(fox_transcript, original, "Team meeting.mp3", job)
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
        assert names == {
            "manifest.json",
            "original/Team meeting.mp3",
            "transcript.txt",
            "transcript.srt",
            "transcript.vtt",
            "transcript.json",
        }
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["job"] == job
        assert manifest["original_name"] == "Team meeting.mp3"
        assert manifest["language"] == "en"
        listed = {entry["name"]: entry for entry in manifest["files"]}
        assert set(listed) == names - {"manifest.json"}
        for name, entry in listed.items():
            data = archive.read(name)
            assert entry["size"] == len(data)
            assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert archive.read("original/Team meeting.mp3") == original.read_bytes()
        assert archive.read("transcript.srt").decode() == render_srt(fox_transcript)
        assert archive.read("transcript.vtt").decode() == render_vtt(fox_transcript)
        assert listed["transcript.vtt"]["media_type"] == OutputFormat.VTT.media_type


@pytest.mark.parametrize(
    ("hostile", "stored"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\talk.wav", "talk.wav"),
        ("..", "original"),
        ("a\x00b.mp3", "ab.mp3"),
    ],
)
def test_package_sanitises_the_original_name(
    fox_transcript: Transcript, fox_clips: dict[str, Path], hostile: str, stored: str
) -> None:
    package = build_package_zip(fox_transcript, fox_clips["wav"], hostile, {})
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        assert f"original/{stored}" in archive.namelist()
        assert json.loads(archive.read("manifest.json"))["original_name"] == hostile


def test_package_written_to_a_path(fox_transcript: Transcript, fox_clips: dict[str, Path], tmp_path: Path) -> None:
    destination = tmp_path / "package.zip"
    manifest = write_package_zip(destination, fox_transcript, fox_clips["flac"], "x.flac", {"job_id": 1})
    with zipfile.ZipFile(destination) as archive:
        assert len(archive.namelist()) == len(manifest.files) + 1
    assert manifest.files[0].sha256 == hashlib.sha256(fox_clips["flac"].read_bytes()).hexdigest()


def test_words_survive_the_json_format() -> None:
    words = (Word(word="hi", start=0.0, end=0.4, probability=0.9),)
    transcript = Transcript(
        language="en",
        language_probability=1.0,
        duration=1.0,
        segments=(Segment(id=0, start=0.0, end=0.5, text="hi", words=words),),
        text="hi",
    )
    assert msgspec.json.decode(render_json(transcript), type=Transcript).segments[0].words == words

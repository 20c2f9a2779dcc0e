"""Synthetic speech clips for the sonic benchmarks and tests, made offline with espeak-ng."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

# Harvard sentences (IEEE 1969): public domain, phonetically balanced, meant for speech testing.
SENTENCES: tuple[str, ...] = (
    "the birch canoe slid on the smooth planks",
    "glue the sheet to the dark blue background",
    "it is easy to tell the depth of a well",
    "these days a chicken leg is a rare dish",
    "rice is often served in round bowls",
    "the juice of lemons makes fine punch",
    "the box was thrown beside the parked truck",
    "the hogs were fed chopped corn and garbage",
    "four hours of steady work faced us",
    "a large size in stockings is hard to sell",
    "the boy was there when the sun rose",
    "a rod is used to catch pink salmon",
    "the source of the huge river is the clear spring",
    "kick the ball straight and follow through",
    "help the woman get back to her feet",
    "a pot of tea helps to pass the evening",
    "smoky fires lack flame and heat",
    "the soft cushion broke the man's fall",
    "the salt breeze came across from the sea",
    "the girl at the booth sold fifty bonds",
)

_GAP_S = 0.4


def require_tools(*names: str) -> None:
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        raise RuntimeError(f"missing command-line tools: {', '.join(missing)}")


# Slow, clearly separated words in received pronunciation: espeak-ng's robotic voice at its default
# pace costs tiny.en a word in four, which would make accuracy checks measure the voice, not us.
VOICE = "en-gb-x-rp"
WORDS_PER_MINUTE = 140
WORD_GAP_10MS = 10


def synthesize(text: str, wav_path: Path) -> None:
    """Speak `text` into a mono 16-bit wav with espeak-ng."""
    require_tools("espeak-ng")
    subprocess.run(
        [
            "espeak-ng",
            *("-v", VOICE, "-s", str(WORDS_PER_MINUTE), "-g", str(WORD_GAP_10MS)),
            *("-w", str(wav_path), text),
        ],
        check=True,
        capture_output=True,
    )


def ffmpeg(*args: str) -> None:
    require_tools("ffmpeg")
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True, capture_output=True)


def convert(source: Path, target: Path, *extra_args: str) -> None:
    """Re-encode `source` with ffmpeg; the codec follows `target`'s extension unless `extra_args` say."""
    ffmpeg("-i", str(source), *extra_args, str(target))


def make_speech_clip(path: Path, seconds: float, *, sentences: tuple[str, ...] = SENTENCES) -> str:
    """Write about `seconds` of speech to `path` (any ffmpeg-writable extension).

    Whole sentences are spoken, cycling through `sentences`, until the next one would overrun;
    the rest is padded with silence so the clip lasts exactly `seconds`. Returns the spoken text,
    which is the reference transcript.
    """
    spoken: list[str] = []
    frames = bytearray()
    params: wave._wave_params | None = None
    with tempfile.TemporaryDirectory(prefix="sonic-clip-") as tmp:
        index = 0
        while True:
            sentence = sentences[index % len(sentences)]
            part = Path(tmp) / f"{index}.wav"
            synthesize(sentence, part)
            with wave.open(str(part), "rb") as reader:
                params = params or reader.getparams()
                chunk = reader.readframes(reader.getnframes())
            frame_bytes = params.sampwidth * params.nchannels
            gap = bytes(int(_GAP_S * params.framerate) * frame_bytes)
            if spoken and (len(frames) + len(chunk)) / frame_bytes / params.framerate > seconds:
                break
            spoken.append(sentence)
            frames += chunk + gap
            index += 1
            if len(frames) / frame_bytes / params.framerate >= seconds:
                break
        total = int(seconds * params.framerate) * frame_bytes
        frames = frames[:total] + bytes(max(0, total - len(frames)))
        wav_path = path if path.suffix.lower() == ".wav" else Path(tmp) / "clip.wav"
        with wave.open(str(wav_path), "wb") as writer:
            writer.setparams(params)
            writer.writeframes(bytes(frames))
        if wav_path != path:
            convert(wav_path, path)
    return " ".join(spoken)

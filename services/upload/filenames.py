"""Client filenames made safe to keep and show: never used as a storage key, only as a label."""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_BYTES = 255
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_UNSAFE = re.compile(r'[<>:"|?*\\/]')


def sanitize_filename(raw: str | None) -> str:
    """NFC-normalised base name without paths, control characters, reserved device names or
    leading dots, at most 255 UTF-8 bytes with its extension kept; "file" when nothing is left."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    name = re.sub(r"\s+", " ", name)
    if not name:
        return "file"
    if _RESERVED.match(name):
        name = f"_{name}"
    if len(name.encode()) > MAX_NAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        if not dot or len(ext) > 16:
            stem, ext = name, ""
        suffix = f".{ext}" if ext else ""
        budget = MAX_NAME_BYTES - len(suffix.encode())
        stem = stem.encode()[:budget].decode(errors="ignore")
        name = f"{stem}{suffix}"
    return name


def extension_of(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def ascii_fallback(name: str) -> str:
    """An ASCII stand-in for the `filename=` parameter (the real name goes in `filename*`)."""
    decomposed = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._ -]", "_", decomposed).strip() or "file"

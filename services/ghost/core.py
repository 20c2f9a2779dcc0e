"""Public surface of the ghost domain core.

Everything here is synchronous and keeps no shared mutable state, so callers may run it in worker
threads (``asyncio.to_thread``). Extraction reads only its input; shredding writes only ``dst``.
"""

from services.ghost.errors import CorruptFile, EncryptedFile, GhostError, InputTooLarge, UnsupportedFormat
from services.ghost.extract import extract_metadata
from services.ghost.formats import SUPPORTED_FORMATS, FileKind, cleaned_filename, detect_kind, extension_matches
from services.ghost.limits import DEFAULT_LIMITS, Limits
from services.ghost.shred import shred_file
from services.ghost.shred.report import ShredReport

__all__ = [
    "DEFAULT_LIMITS",
    "SUPPORTED_FORMATS",
    "CorruptFile",
    "EncryptedFile",
    "FileKind",
    "GhostError",
    "InputTooLarge",
    "Limits",
    "ShredReport",
    "UnsupportedFormat",
    "cleaned_filename",
    "detect_kind",
    "extension_matches",
    "extract_metadata",
    "shred_file",
]

"""The real type of an upload, from its bytes (libmagic), checked against its extension."""

from __future__ import annotations

import magic

# What libmagic may call a genuine file of each extension. Old Office formats are OLE
# containers, new ones are zip packages (libmagic needs the whole file to say "docx").
EXPECTED: dict[str, frozenset[str]] = {
    "txt": frozenset({"text/plain", "text/csv", "text/x-c", "text/markdown", "application/json", "text/html"}),
    "csv": frozenset({"text/plain", "text/csv"}),
    "md": frozenset({"text/plain", "text/markdown"}),
    "json": frozenset({"application/json", "text/plain"}),
    "pdf": frozenset({"application/pdf"}),
    "png": frozenset({"image/png"}),
    "jpg": frozenset({"image/jpeg"}),
    "jpeg": frozenset({"image/jpeg"}),
    "gif": frozenset({"image/gif"}),
    "webp": frozenset({"image/webp"}),
    "tiff": frozenset({"image/tiff"}),
    "doc": frozenset({"application/msword", "application/x-ole-storage", "application/cdfv2", "application/CDFV2"}),
    "xls": frozenset({"application/vnd.ms-excel", "application/x-ole-storage", "application/CDFV2"}),
    "docx": frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/zip"}),
    "xlsx": frozenset({"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/zip"}),
    "pptx": frozenset({"application/vnd.openxmlformats-officedocument.presentationml.presentation", "application/zip"}),
    "zip": frozenset({"application/zip"}),
    "mp3": frozenset({"audio/mpeg"}),
    "wav": frozenset({"audio/x-wav", "audio/wav"}),
}
# Never accepted under any extension: programs and scripts that could be run if served back.
EXECUTABLE = frozenset(
    {
        "application/x-executable",
        "application/x-sharedlib",
        "application/x-pie-executable",
        "application/x-mach-binary",
        "application/x-dosexec",
        "application/x-msdownload",
        "application/vnd.microsoft.portable-executable",
        "text/x-shellscript",
        "text/x-script.python",
        "application/x-elf",
        "text/x-msdos-batch",
    }
)
_detector = magic.Magic(mime=True)


def detect_mime(head: bytes) -> str:
    return str(_detector.from_buffer(head)) if head else "application/x-empty"


def content_matches(extension: str, mime: str) -> bool:
    if mime in EXECUTABLE:
        return False
    expected = EXPECTED.get(extension)
    if expected is None:
        return True
    if extension in {"txt", "csv", "md"} and mime.startswith("text/"):
        return mime not in EXECUTABLE
    return mime in expected


# Signatures a genuine file starts with, that libmagic also finds further in (a PDF anywhere in its
# first KiB): bytes before them are another document wrapped around this one (HTML with a script,
# say), a polyglot that a browser sniffing content would not treat as a PDF.
LEADING_SIGNATURES: dict[str, bytes] = {"application/pdf": b"%PDF-"}


def has_prefix(head: bytes, mime: str) -> bool:
    """True when `head` holds a `mime` file that does not start at byte 0."""
    signature = LEADING_SIGNATURES.get(mime)
    return signature is not None and not head.startswith(signature)


def final_content_type(extension: str, mime: str) -> str:
    """The Content-Type to serve: the precise Office type when libmagic only saw a zip."""
    if mime == "application/zip" and extension in {"docx", "xlsx", "pptx"}:
        return next(iter(EXPECTED[extension] - {"application/zip"}))
    return mime

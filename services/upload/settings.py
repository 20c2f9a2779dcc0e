"""Settings of the upload service (names as in the Exam Hub seed: `MAX_UPLOAD_SIZE`, `ALLOWED_EXTENSIONS`)."""

from __future__ import annotations

import msgspec

from libs.settings import SettingsError

DEFAULT_EXTENSIONS = frozenset({"txt", "pdf", "png", "jpg", "jpeg", "gif", "doc", "docx"})


class UploadSettings(msgspec.Struct, frozen=True, kw_only=True):
    max_upload_size: int = 50 * 1024 * 1024
    allowed_extensions: frozenset[str] = DEFAULT_EXTENSIONS
    upload_list_max_limit: int = 1000
    upload_stat_concurrency: int = 16

    def validate(self) -> None:
        if self.max_upload_size < 1:
            raise SettingsError("MAX_UPLOAD_SIZE is invalid: must be positive")
        if not self.allowed_extensions:
            raise SettingsError("ALLOWED_EXTENSIONS is invalid: empty")
        bad = [ext for ext in self.allowed_extensions if not ext.isalnum()]
        if bad:
            raise SettingsError(f"ALLOWED_EXTENSIONS is invalid: {', '.join(sorted(bad))}")

    @property
    def extensions(self) -> frozenset[str]:
        return frozenset(ext.lower().lstrip(".") for ext in self.allowed_extensions)

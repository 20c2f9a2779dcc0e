"""Settings of the ghost service (environment variables prefixed `GHOST_`)."""

from __future__ import annotations

import msgspec

from libs.settings import SettingsError


class GhostSettings(msgspec.Struct, frozen=True, kw_only=True):
    max_file_size: int = 100 * 1024 * 1024
    max_pixels: int = 200_000_000
    # The metadata summary sent to the upload service is capped so one event stays small.
    max_summary_bytes: int = 64 * 1024
    concurrency: int = 2

    def validate(self) -> None:
        if self.max_file_size < 1 or self.max_pixels < 1 or self.concurrency < 1:
            raise SettingsError("GHOST_MAX_FILE_SIZE, GHOST_MAX_PIXELS and GHOST_CONCURRENCY must be positive")

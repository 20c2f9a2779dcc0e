"""Settings of the sonic service (environment variables prefixed `SONIC_`)."""

from __future__ import annotations

from typing import Literal

import msgspec

from libs.settings import SettingsError


class SonicSettings(msgspec.Struct, frozen=True, kw_only=True):
    max_file_size: int = 200 * 1024 * 1024
    max_duration_seconds: float = 3 * 3600.0
    # The model every job uses unless it names another in `models`; `model_path` empty = the bundled tiny.en.
    model: str = "tiny.en"
    model_path: str = ""
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 2
    beam_size: int = 1
    # A job's message must be acknowledged (or kept alive) within this time, or it is redelivered.
    ack_wait_seconds: float = 60.0
    keepalive_seconds: float = 10.0
    max_attempts: int = 3
    worker_concurrency: int = 1

    def validate(self) -> None:
        if self.keepalive_seconds >= self.ack_wait_seconds:
            raise SettingsError("SONIC_KEEPALIVE_SECONDS must be shorter than SONIC_ACK_WAIT_SECONDS")
        if self.max_file_size < 1 or self.max_duration_seconds <= 0:
            raise SettingsError("SONIC_MAX_FILE_SIZE and SONIC_MAX_DURATION_SECONDS must be positive")

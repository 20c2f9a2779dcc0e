"""Settings of the auth service (environment variables prefixed `AUTH_`, plus the bootstrap admin)."""

from __future__ import annotations

import msgspec

from libs.settings import SettingsError


class AuthSettings(msgspec.Struct, frozen=True, kw_only=True):
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    signing_algorithm: str = "EdDSA"
    # HMAC key for API-token hashes; generated and kept in the database when not given.
    token_pepper: str = ""
    min_password_length: int = 10
    max_password_length: int = 1024
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    # Brute force: after `slowdown_after` failures answers are delayed; after `lock_after` failures
    # for one account (or `client_lock_after` for one address) logins are refused for `lockout_seconds`.
    slowdown_after: int = 3
    lock_after: int = 5
    client_lock_after: int = 20
    failure_window_seconds: int = 900
    lockout_seconds: int = 900
    max_api_tokens_per_user: int = 100
    max_api_token_days: int = 365

    def validate(self) -> None:
        if self.signing_algorithm not in ("EdDSA", "ES256"):
            raise SettingsError("AUTH_SIGNING_ALGORITHM is invalid: use EdDSA or ES256")
        if self.access_token_minutes < 1 or self.refresh_token_days < 1:
            raise SettingsError("AUTH_ACCESS_TOKEN_MINUTES and AUTH_REFRESH_TOKEN_DAYS must be positive")


class BootstrapSettings(msgspec.Struct, frozen=True, kw_only=True):
    bootstrap_admin_email: str = ""
    bootstrap_admin_password: str = ""

"""Settings of the audit service (environment variables prefixed `AUDIT_`)."""

from __future__ import annotations

import msgspec

from libs.settings import SettingsError


class AuditSettings(msgspec.Struct, frozen=True, kw_only=True):
    max_archive_size: int = 200 * 1024 * 1024
    max_repo_bytes: int = 1024 * 1024 * 1024
    clone_depth: int = 1000
    clone_timeout_seconds: float = 600.0
    # Hosts that may resolve to private addresses (an internal git server); everything else must be public.
    allow_hosts: frozenset[str] = frozenset()
    # For development and tests only: absolute paths under this folder are accepted as repositories
    # and cloned with git's local transport. Empty (the default) disables it.
    local_repository_root: str = ""
    # Audits per calendar month by tier; 0 means unlimited. Admins are always unlimited.
    tier_limits: frozenset[str] = frozenset({"free:50", "pro:1000", "enterprise:0"})
    default_tier: str = "free"
    warm_up: bool = True
    ack_wait_seconds: float = 120.0
    keepalive_seconds: float = 15.0
    max_attempts: int = 2
    worker_concurrency: int = 1

    def validate(self) -> None:
        limits = self.limits
        if self.default_tier not in limits:
            raise SettingsError(f"AUDIT_DEFAULT_TIER is invalid: {self.default_tier!r} is not in AUDIT_TIER_LIMITS")
        if self.keepalive_seconds >= self.ack_wait_seconds:
            raise SettingsError("AUDIT_KEEPALIVE_SECONDS must be shorter than AUDIT_ACK_WAIT_SECONDS")

    @property
    def limits(self) -> dict[str, int]:
        parsed: dict[str, int] = {}
        for item in self.tier_limits:
            name, _, value = item.partition(":")
            if not name or not value.isdigit():
                raise SettingsError(f"AUDIT_TIER_LIMITS is invalid: {item!r} (use tier:monthly_audits)")
            parsed[name.strip()] = int(value)
        return parsed

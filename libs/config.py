"""The settings every service process shares: database, NATS, object storage, HTTP, logging, tokens."""

from __future__ import annotations

from typing import Literal

import msgspec

from libs.settings import SettingsError


class PlatformSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Environment of one platform process (see the README's configuration table)."""

    environment: Literal["dev", "test", "prod"] = "dev"
    debug: bool = False
    log_level: str = "INFO"
    log_format: Literal["console", "json", "auto"] = "auto"

    host: str = "127.0.0.1"
    port: int = 8000

    database_url: str
    db_pool_min: int = 1
    db_pool_max: int = 10
    db_command_timeout: float = 30.0

    nats_url: str = "nats://127.0.0.1:4222"
    nats_connect_timeout: float = 30.0
    # JetStream replicas of the streams a service creates (3 on a three-node NATS cluster).
    nats_stream_replicas: int = 1

    storage_backend: Literal["fs", "s3"] = "fs"
    storage_path: str = ".data/objects"
    s3_endpoint: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "forge"
    s3_secure: bool = True
    s3_region: str = "us-east-1"

    jwt_issuer: str = "forge-auth"
    jwt_audience: str = "forge"
    api_token_cache_seconds: float = 3.0
    max_json_body_bytes: int = 1_048_576
    # Keep under the orchestrator's grace period (Kubernetes: 30 s): half drains HTTP requests,
    # half lets consumers and workers finish or hand back their messages.
    shutdown_grace_seconds: float = 25.0

    def validate(self) -> None:
        if self.storage_backend == "s3" and not (self.s3_endpoint and self.s3_access_key and self.s3_secret_key):
            raise SettingsError("S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY are required when STORAGE_BACKEND=s3")
        if not 1 <= self.port <= 65535:
            raise SettingsError(f"PORT is invalid: {self.port} is not a TCP port")
        if self.db_pool_min < 1 or self.db_pool_max < self.db_pool_min:
            raise SettingsError("DB_POOL_MIN must be >= 1 and DB_POOL_MAX >= DB_POOL_MIN")

    @property
    def json_logs(self) -> bool:
        if self.log_format == "auto":
            return self.environment == "prod"
        return self.log_format == "json"

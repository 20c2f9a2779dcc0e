"""Pick the object store the settings ask for."""

from __future__ import annotations

from libs.config import PlatformSettings
from libs.storage.base import ObjectStore
from libs.storage.filesystem import FilesystemObjectStore
from libs.storage.s3 import S3ObjectStore


def open_object_store(settings: PlatformSettings, *, bucket: str | None = None) -> ObjectStore:
    """The store for one service: S3 buckets or sub-folders are named after the service."""
    name = bucket or settings.s3_bucket
    if settings.storage_backend == "s3":
        return S3ObjectStore(
            settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            bucket=name,
            secure=settings.s3_secure,
            region=settings.s3_region,
        )
    return FilesystemObjectStore(f"{settings.storage_path}/{name}")

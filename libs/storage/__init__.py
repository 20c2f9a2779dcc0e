"""Object storage behind one async interface: S3/MinIO (`S3ObjectStore`) or a folder (`FilesystemObjectStore`)."""

from libs.storage.base import (
    InvalidObjectKey,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StorageUnavailable,
    validate_key,
)
from libs.storage.factory import open_object_store
from libs.storage.filesystem import FilesystemObjectStore
from libs.storage.s3 import S3ObjectStore

__all__ = [
    "FilesystemObjectStore",
    "InvalidObjectKey",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "S3ObjectStore",
    "StorageUnavailable",
    "open_object_store",
    "validate_key",
]

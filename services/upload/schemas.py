"""Response bodies of the Exam Hub upload API, field for field as the seed documents them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from libs.http import Page


class UploadMetadata(msgspec.Struct):
    is_image: bool
    is_pdf: bool
    user_scoped: bool = True
    database_integrated: bool = True


class UploadedFile(msgspec.Struct):
    file_id: str
    original_filename: str
    stored_filename: str
    size: int
    size_mb: float
    content_type: str
    file_hash: str
    uploaded_at: datetime
    is_duplicate: bool
    metadata: UploadMetadata


class FileListItem(msgspec.Struct):
    file_id: str
    stored_filename: str
    original_filename: str
    size: int
    size_mb: float
    content_type: str
    upload_status: str
    is_public: bool
    is_image: bool
    is_pdf: bool
    uploaded_at: datetime
    filesystem_exists: bool
    user_owned: bool


class FileList(msgspec.Struct):
    files: list[FileListItem]
    pagination: Page
    user_id: str
    user_scoped: bool = True


class FileInfo(msgspec.Struct):
    file_id: str
    stored_filename: str
    original_filename: str
    size: int
    size_mb: float
    content_type: str
    file_hash: str
    upload_status: str
    is_public: bool
    is_image: bool
    is_pdf: bool
    uploaded_at: datetime
    updated_at: datetime
    owner_id: str
    filesystem_exists: bool
    processed: bool
    processing_result: dict[str, Any] | None
    database_integrated: bool = True
    access_validated: bool = True


class DeletedFile(msgspec.Struct):
    file_id: str
    original_filename: str
    filesystem_deleted: bool
    database_updated: bool = True


class AdminFileItem(msgspec.Struct):
    file_id: str
    stored_filename: str
    original_filename: str
    size: int
    size_mb: float
    content_type: str
    upload_status: str
    is_public: bool
    owner_id: str
    uploaded_at: datetime
    filesystem_exists: bool
    admin_visible: bool = True


class AdminFileList(msgspec.Struct):
    files: list[AdminFileItem]
    pagination: Page
    requested_by: str
    admin_access: bool = True


class UploadStats(msgspec.Struct):
    total_files: int
    total_size_bytes: int
    total_size_mb: float
    active_users: int
    file_types: dict[str, int]
    average_file_size_mb: float
    generated_by: str
    admin_access: bool = True


class HealthChecks(msgspec.Struct):
    upload_folder_exists: bool
    upload_folder_writable: bool
    database_integration: bool
    security_enabled: bool


class Health(msgspec.Struct):
    service: str
    status: str
    checks: HealthChecks

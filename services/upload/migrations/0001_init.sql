-- One row per upload (the seed's uploaded_files), soft-deleted; bytes live in object storage.
CREATE TABLE uploaded_files (
    id                 uuid PRIMARY KEY,
    original_filename  varchar(255) NOT NULL,
    stored_filename    varchar(255) NOT NULL UNIQUE,
    file_path          varchar(500) NOT NULL,
    size               bigint       NOT NULL CHECK (size > 0),
    content_type       varchar(100),
    file_hash          varchar(64)  NOT NULL,
    owner_id           varchar(36)  NOT NULL,
    is_public          boolean      NOT NULL DEFAULT false,
    storage_type       varchar(10)  NOT NULL DEFAULT 'S3',
    storage_metadata   jsonb,
    upload_status      varchar(20)  NOT NULL DEFAULT 'COMPLETED',
    processed          boolean      NOT NULL DEFAULT false,
    processing_result  jsonb,
    error_message      text,
    is_duplicate       boolean      NOT NULL DEFAULT false,
    created_at         timestamptz  NOT NULL DEFAULT now(),
    updated_at         timestamptz  NOT NULL DEFAULT now(),
    deleted_at         timestamptz
);
CREATE INDEX idx_uploaded_files_owner_id ON uploaded_files (owner_id, created_at DESC) WHERE deleted_at IS NULL;
CREATE INDEX idx_uploaded_files_file_hash ON uploaded_files (file_hash) WHERE deleted_at IS NULL;
CREATE INDEX idx_uploaded_files_created ON uploaded_files (created_at DESC) WHERE deleted_at IS NULL;

-- Content-addressed objects: one per distinct SHA-256, removed when no live upload refers to it.
CREATE TABLE blobs (
    sha256      varchar(64) PRIMARY KEY,
    object_key  text        NOT NULL,
    size        bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now()
);

-- What ghost extracted from each stored upload; one row per file, so redeliveries are no-ops.
CREATE TABLE extractions (
    file_id     text PRIMARY KEY,
    sha256      varchar(64) NOT NULL,
    status      text        NOT NULL CHECK (status IN ('extracted', 'unsupported', 'failed')),
    summary     jsonb       NOT NULL DEFAULT '{}',
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX extractions_sha256_idx ON extractions (sha256);

CREATE TABLE jobs (
    id                    uuid PRIMARY KEY,
    owner_id              text        NOT NULL,
    status                text        NOT NULL DEFAULT 'queued'
                          CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'cancelled')),
    progress              real        NOT NULL DEFAULT 0,
    stage                 text        NOT NULL DEFAULT 'queued',
    original_filename     text        NOT NULL,
    original_key          text        NOT NULL,
    size                  bigint      NOT NULL,
    media_format          text,
    duration              double precision,
    language              text,
    detected_language     text,
    language_probability  double precision,
    model                 text        NOT NULL,
    word_timestamps       boolean     NOT NULL DEFAULT false,
    vad                   boolean     NOT NULL DEFAULT false,
    outputs               jsonb       NOT NULL DEFAULT '{}',
    error                 text,
    attempts              integer     NOT NULL DEFAULT 0,
    worker                text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    started_at            timestamptz,
    completed_at          timestamptz,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    deleted_at            timestamptz
);
CREATE INDEX jobs_owner_idx ON jobs (owner_id, created_at DESC) WHERE deleted_at IS NULL;
CREATE INDEX jobs_status_idx ON jobs (status) WHERE deleted_at IS NULL;

CREATE TABLE audits (
    id             uuid PRIMARY KEY,
    owner_id       text        NOT NULL,
    repository     text        NOT NULL,
    source_kind    text        NOT NULL CHECK (source_kind IN ('git', 'archive', 'local')),
    branch         text,
    archive_key    text,
    status         text        NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    progress       real        NOT NULL DEFAULT 0,
    stage          text        NOT NULL DEFAULT 'queued',
    files_scanned  integer     NOT NULL DEFAULT 0,
    summary        jsonb,
    reports        jsonb       NOT NULL DEFAULT '{}',
    error          text,
    attempts       integer     NOT NULL DEFAULT 0,
    worker         text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    completed_at   timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz
);
CREATE INDEX audits_owner_idx ON audits (owner_id, created_at DESC) WHERE deleted_at IS NULL;

-- Usage built from the platform's events: one row per event, so replays count once.
CREATE TABLE usage_events (
    event_id     uuid             NOT NULL,
    user_id      text             NOT NULL,
    kind         text             NOT NULL,
    quantity     double precision NOT NULL,
    occurred_at  timestamptz      NOT NULL,
    PRIMARY KEY (event_id, kind)
);
CREATE INDEX usage_events_user_idx ON usage_events (user_id, occurred_at);

CREATE TABLE user_tiers (
    user_id     text PRIMARY KEY,
    tier        text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

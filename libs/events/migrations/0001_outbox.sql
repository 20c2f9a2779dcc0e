-- Events written in the same transaction as the change they describe; OutboxRelay publishes them.
CREATE TABLE outbox (
    id          uuid PRIMARY KEY,
    subject     text        NOT NULL,
    payload     bytea       NOT NULL,
    request_id  text,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    sent_at     timestamptz,
    attempts    integer     NOT NULL DEFAULT 0,
    last_error  text
);
CREATE INDEX outbox_unsent_idx ON outbox (created_at) WHERE sent_at IS NULL;

-- Messages a consumer has fully handled: a redelivery of one of these is acknowledged and skipped.
CREATE TABLE processed_messages (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Messages a consumer gave up on, kept for a person to inspect (`forge dead-letters`).
CREATE TABLE dead_letters (
    id          bigserial   PRIMARY KEY,
    consumer    text        NOT NULL,
    subject     text        NOT NULL,
    stream_seq  bigint,
    event_id    uuid,
    payload     bytea       NOT NULL,
    error       text        NOT NULL,
    attempts    integer     NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letters_consumer_idx ON dead_letters (consumer, created_at DESC);

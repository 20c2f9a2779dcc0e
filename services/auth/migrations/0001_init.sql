CREATE TABLE users (
    id             uuid PRIMARY KEY,
    email          text        NOT NULL,
    name           text,
    password_hash  text        NOT NULL,
    role           text        NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    disabled_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Asymmetric signing keys. The newest active key signs; retired keys stay published in the
-- JWKS until every token they signed has expired.
CREATE TABLE signing_keys (
    kid          text PRIMARY KEY,
    algorithm    text        NOT NULL,
    private_pem  text        NOT NULL,
    public_jwk   jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    retired_at   timestamptz
);

-- Server secrets generated once (e.g. the API-token pepper) unless given by the environment.
CREATE TABLE secrets (
    name        text PRIMARY KEY,
    value       text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per issued refresh token; a family is one login session. Using a token twice
-- (reuse) revokes its whole family.
CREATE TABLE refresh_tokens (
    jti          uuid PRIMARY KEY,
    family_id    uuid        NOT NULL,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issued_at    timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE api_tokens (
    id            uuid PRIMARY KEY,
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text        NOT NULL,
    token_prefix  text        NOT NULL,
    token_hash    text        NOT NULL UNIQUE,
    scopes        text[]      NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    expires_at    timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id, created_at DESC);

-- Failed logins per account and per client address, for slowing down and locking out guessing.
CREATE TABLE login_failures (
    key           text PRIMARY KEY,
    failures      integer     NOT NULL DEFAULT 0,
    window_start  timestamptz NOT NULL DEFAULT now(),
    locked_until  timestamptz
);

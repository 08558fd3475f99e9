CREATE TABLE sessions (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL,
    device_id     text NOT NULL DEFAULT '',
    version       integer NOT NULL,
    created_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    revoke_reason text
);

CREATE INDEX sessions_user ON sessions (user_id);

-- Refresh tokens are stored as SHA-256 of the token; the token itself is
-- only ever in the reply to the client.
CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES sessions (id),
    generation  integer NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    -- set when the token is exchanged; presenting it again is reuse
    rotated_at  timestamptz
);

CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Tables every service database has: the idempotency record and the
-- transactional outbox (which is also the service's event history).

CREATE TABLE processed_commands (
    command_id   text PRIMARY KEY,
    type         text NOT NULL,
    request_hash bytea NOT NULL,
    -- the reply envelope (msgpack), sealed when it carries secrets
    reply        bytea NOT NULL,
    sealed       boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE events (
    seq               bigserial PRIMARY KEY,
    event_id          uuid NOT NULL UNIQUE,
    aggregate_id      uuid NOT NULL,
    aggregate_version integer NOT NULL CHECK (aggregate_version > 0),
    type              text NOT NULL,
    schema_version    integer NOT NULL,
    -- the whole event envelope (msgpack), published as it is
    body              bytea NOT NULL,
    correlation_id    text NOT NULL,
    causation_id      text NOT NULL,
    occurred_at       timestamptz NOT NULL DEFAULT now(),
    published_at      timestamptz,
    UNIQUE (aggregate_id, aggregate_version)
);

CREATE INDEX events_unpublished ON events (seq) WHERE published_at IS NULL;

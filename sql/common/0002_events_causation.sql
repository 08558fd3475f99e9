-- A command answered again from its idempotency record re-applies its own
-- events to the projections; they are found by the command id.
CREATE INDEX events_causation ON events (causation_id);

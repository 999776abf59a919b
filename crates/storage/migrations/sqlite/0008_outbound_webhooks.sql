-- Outbound webhooks: the merchant's endpoints (their signing secret sealed by the caller), one
-- delivery per event and endpoint (the signed JSON body kept as sent, its state and the last
-- attempt's outcome), and every attempt's result for the delivery log. A delivery is written
-- in the transaction of the change that caused its event, with the job that sends it.
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    -- A JSON array of event names, or ["*"] for every event.
    events          TEXT NOT NULL,
    secret_sealed   TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    enabled         BIGINT NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE outbound_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    order_id        BIGINT,
    -- The event's JSON envelope, the exact body of every attempt.
    payload         TEXT NOT NULL,
    -- queued, delivered or failed.
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_status_code BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT,
    delivered_at    BIGINT
);
CREATE INDEX outbound_deliveries_endpoint ON outbound_deliveries (endpoint_id, id);

CREATE TABLE outbound_attempts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id     BIGINT NOT NULL REFERENCES outbound_deliveries (id) ON DELETE CASCADE,
    attempt         BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    status_code     BIGINT,
    error           TEXT,
    duration_ms     BIGINT NOT NULL,
    -- The first bytes of the receiver's answer, for the merchant to see why (never more).
    response_excerpt TEXT
);
CREATE INDEX outbound_attempts_delivery ON outbound_attempts (delivery_id, id);

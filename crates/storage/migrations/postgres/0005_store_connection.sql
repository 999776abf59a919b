-- The store connection: sealed credentials and sync state on the store, webhook deliveries
-- kept raw before they are acknowledged, imports with their progress, and the outbox of
-- writes to the store (status changes, notes, tracking) delivered in order by a job.
ALTER TABLE stores ADD COLUMN secrets TEXT NOT NULL DEFAULT '{}';
ALTER TABLE stores ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE stores ADD COLUMN last_webhook_at BIGINT;
ALTER TABLE stores ADD COLUMN last_reconcile_at BIGINT;
ALTER TABLE stores ADD COLUMN last_reconcile_error TEXT;
-- The `modified_after` the next reconcile asks from (minus an overlap).
ALTER TABLE stores ADD COLUMN reconciled_until BIGINT;

CREATE TABLE webhook_deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id        TEXT NOT NULL,
    topic           TEXT NOT NULL,
    delivery_id     TEXT NOT NULL DEFAULT '',
    webhook_id      TEXT NOT NULL DEFAULT '',
    headers         TEXT NOT NULL,
    body            BYTEA NOT NULL,
    received_at     BIGINT NOT NULL,
    processed_at    BIGINT,
    outcome         TEXT,
    order_id        BIGINT
);
CREATE INDEX webhook_deliveries_store ON webhook_deliveries (store_id, id);

CREATE TABLE imports (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id        TEXT NOT NULL,
    scope           TEXT NOT NULL,
    state           TEXT NOT NULL,
    actor           TEXT NOT NULL,
    total           BIGINT NOT NULL DEFAULT 0,
    seen            BIGINT NOT NULL DEFAULT 0,
    created         BIGINT NOT NULL DEFAULT 0,
    updated         BIGINT NOT NULL DEFAULT 0,
    unchanged       BIGINT NOT NULL DEFAULT 0,
    failed          BIGINT NOT NULL DEFAULT 0,
    failures        TEXT NOT NULL DEFAULT '[]',
    error           TEXT,
    started_at      BIGINT NOT NULL,
    finished_at     BIGINT
);

CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id        TEXT NOT NULL,
    order_id        BIGINT NOT NULL REFERENCES orders (id),
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL,
    actor           TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX outbox_order ON outbox (order_id, id);

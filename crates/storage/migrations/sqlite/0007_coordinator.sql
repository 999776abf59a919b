-- The coordinator: fulfillment provider accounts (settings, and credentials sealed like a
-- store's), and provider webhooks kept raw before they are acknowledged.
CREATE TABLE provider_accounts (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    settings        TEXT NOT NULL,
    secrets         TEXT NOT NULL DEFAULT '{}',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE provider_webhooks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      TEXT NOT NULL,
    headers         TEXT NOT NULL,
    body            BLOB NOT NULL,
    received_at     BIGINT NOT NULL,
    processed_at    BIGINT,
    outcome         TEXT
);
CREATE INDEX provider_webhooks_account ON provider_webhooks (account_id, id);

-- Submitted orders whose parcels are still on their way: the polling backstop's list.
CREATE INDEX orders_submit_status ON orders (submit_status, updated_at);

-- People and the dashboard. Users are admins (see everything) or merchants (see the orders,
-- files and settings of their own stores, listed in user_stores). Passwords are Argon2id PHC
-- strings; session cookies and API tokens are random and only their SHA-256 is kept, so a
-- copy of the database opens no account. Failed logins are kept per account and per address
-- for the throttle (rows older than the window are deleted as new ones arrive).
CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    username        TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    -- admin or merchant.
    role            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE user_stores (
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    store_id        TEXT NOT NULL,
    PRIMARY KEY (user_id, store_id)
);
CREATE INDEX user_stores_store ON user_stores (store_id);

CREATE TABLE sessions (
    token_sha256    TEXT PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The synchronizer token every form and state-changing request of this session carries.
    csrf            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    token_sha256    TEXT NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT
);

CREATE TABLE login_failures (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- "user:<name>" or "addr:<ip>".
    throttle_key    TEXT NOT NULL,
    at              BIGINT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (throttle_key, at);

-- The dashboard: customer search text (lowercased name and email) and indexes for its filters,
-- each ending in id so a filtered page is read newest first from the index.
ALTER TABLE orders ADD COLUMN customer_search TEXT NOT NULL DEFAULT '';
UPDATE orders SET customer_search = lower(coalesce(json_extract(data, '$.customer.name'), '') || ' ' || coalesce(json_extract(data, '$.customer.email'), ''));
CREATE INDEX orders_store_id ON orders (store_id, id);
CREATE INDEX orders_status_id ON orders (status, id);
CREATE INDEX orders_type_id ON orders (order_type, id);
CREATE INDEX orders_submit_id ON orders (submit_status, id);
CREATE INDEX orders_number ON orders (number);

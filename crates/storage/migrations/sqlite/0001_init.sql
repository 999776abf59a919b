-- Pressroom schema, SQLite dialect. Times are Unix milliseconds (INTEGER) so that both dialects
-- share one set of queries; JSON documents are TEXT.
CREATE TABLE stores (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    url         TEXT NOT NULL DEFAULT '',
    config      TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
);

CREATE TABLE providers (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    config      TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
);

CREATE TABLE templates (
    id              TEXT PRIMARY KEY,
    version         TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    location        TEXT NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE orders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id        TEXT NOT NULL,
    store_order_id  INTEGER NOT NULL,
    number          TEXT NOT NULL,
    status          TEXT NOT NULL,
    status_kind     TEXT NOT NULL,
    order_type      TEXT NOT NULL,
    submit_status   TEXT NOT NULL,
    submit_at       INTEGER,
    row_version     INTEGER NOT NULL DEFAULT 1,
    render_seq      INTEGER NOT NULL DEFAULT 0,
    data            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (store_id, store_order_id)
);
CREATE INDEX orders_submit_at ON orders (submit_at) WHERE submit_at IS NOT NULL;

CREATE TABLE renders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id        INTEGER NOT NULL REFERENCES orders (id),
    item_id         INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    job_id          INTEGER,
    template_id     TEXT NOT NULL,
    print_key       TEXT NOT NULL,
    print_sha256    TEXT NOT NULL,
    print_size      INTEGER NOT NULL,
    preview_key     TEXT NOT NULL,
    mockup_key      TEXT,
    report_key      TEXT NOT NULL,
    preflight       TEXT NOT NULL,
    preflight_errors   INTEGER NOT NULL,
    preflight_warnings INTEGER NOT NULL,
    record          TEXT NOT NULL,
    duration_ms     INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (order_id, version)
);
CREATE INDEX renders_item ON renders (order_id, item_id);
CREATE UNIQUE INDEX renders_job ON renders (job_id) WHERE job_id IS NOT NULL;

CREATE TABLE submissions (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id            INTEGER NOT NULL UNIQUE REFERENCES orders (id),
    provider_id         TEXT NOT NULL,
    state               TEXT NOT NULL,
    request_id          TEXT NOT NULL,
    provider_order_id   TEXT,
    detail              TEXT NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL,
    priority        INTEGER NOT NULL DEFAULT 0,
    run_at          INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    token           INTEGER NOT NULL DEFAULT 0,
    lease_until     INTEGER,
    worker          TEXT,
    last_error      TEXT,
    order_id        INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX jobs_ready ON jobs (state, run_at);
CREATE INDEX jobs_lease ON jobs (state, lease_until);

CREATE TABLE history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id    INTEGER NOT NULL REFERENCES orders (id),
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    message     TEXT NOT NULL,
    payload     TEXT
);
CREATE INDEX history_order ON history (order_id, id);

-- History is append-only: the database itself refuses to rewrite it.
CREATE TRIGGER history_no_update BEFORE UPDATE ON history
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER history_no_delete BEFORE DELETE ON history
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;

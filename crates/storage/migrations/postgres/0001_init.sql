-- Pressroom schema, Postgres dialect. Times are Unix milliseconds (BIGINT) so that both dialects
-- share one set of queries; JSON documents are TEXT.
CREATE TABLE stores (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    url         TEXT NOT NULL DEFAULT '',
    config      TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL
);

CREATE TABLE providers (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    config      TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL
);

CREATE TABLE templates (
    id              TEXT PRIMARY KEY,
    version         TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    location        TEXT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE orders (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id        TEXT NOT NULL,
    store_order_id  BIGINT NOT NULL,
    number          TEXT NOT NULL,
    status          TEXT NOT NULL,
    status_kind     TEXT NOT NULL,
    order_type      TEXT NOT NULL,
    submit_status   TEXT NOT NULL,
    submit_at       BIGINT,
    row_version     BIGINT NOT NULL DEFAULT 1,
    render_seq      BIGINT NOT NULL DEFAULT 0,
    data            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (store_id, store_order_id)
);
CREATE INDEX orders_submit_at ON orders (submit_at) WHERE submit_at IS NOT NULL;

CREATE TABLE renders (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id        BIGINT NOT NULL REFERENCES orders (id),
    item_id         BIGINT NOT NULL,
    version         BIGINT NOT NULL,
    job_id          BIGINT,
    template_id     TEXT NOT NULL,
    print_key       TEXT NOT NULL,
    print_sha256    TEXT NOT NULL,
    print_size      BIGINT NOT NULL,
    preview_key     TEXT NOT NULL,
    mockup_key      TEXT,
    report_key      TEXT NOT NULL,
    preflight       TEXT NOT NULL,
    preflight_errors   BIGINT NOT NULL,
    preflight_warnings BIGINT NOT NULL,
    record          TEXT NOT NULL,
    duration_ms     BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (order_id, version)
);
CREATE INDEX renders_item ON renders (order_id, item_id);
CREATE UNIQUE INDEX renders_job ON renders (job_id) WHERE job_id IS NOT NULL;

CREATE TABLE submissions (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id            BIGINT NOT NULL UNIQUE REFERENCES orders (id),
    provider_id         TEXT NOT NULL,
    state               TEXT NOT NULL,
    request_id          TEXT NOT NULL,
    provider_order_id   TEXT,
    detail              TEXT NOT NULL DEFAULT '',
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

CREATE TABLE jobs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL,
    priority        BIGINT NOT NULL DEFAULT 0,
    run_at          BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    max_attempts    BIGINT NOT NULL,
    token           BIGINT NOT NULL DEFAULT 0,
    lease_until     BIGINT,
    worker          TEXT,
    last_error      TEXT,
    order_id        BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX jobs_ready ON jobs (state, run_at);
CREATE INDEX jobs_lease ON jobs (state, lease_until);

CREATE TABLE history (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    BIGINT NOT NULL REFERENCES orders (id),
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    message     TEXT NOT NULL,
    payload     TEXT
);
CREATE INDEX history_order ON history (order_id, id);

-- History is append-only: the database itself refuses to rewrite it.
CREATE FUNCTION history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'history is append-only';
END;
$$;
CREATE TRIGGER history_no_update BEFORE UPDATE OR DELETE ON history
FOR EACH ROW EXECUTE FUNCTION history_append_only();

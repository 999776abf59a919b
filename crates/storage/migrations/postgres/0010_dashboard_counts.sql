-- The dashboard at 100,000 orders and beyond. Two tables kept by triggers, so every path that
-- writes an order keeps them right:
-- * order_counts: how many orders each (store, status, type, submit status) has. The
--   dashboard's totals and status counts add up these few rows instead of counting orders.
-- * order_filters: a narrow copy of each order's filter and search columns. A filtered or
--   searched page reads these short rows (newest first, stopping at the page's end), never the
--   wide orders rows with their JSON.
CREATE TABLE order_counts (
    store_id        TEXT NOT NULL,
    status          TEXT NOT NULL,
    order_type      TEXT NOT NULL,
    submit_status   TEXT NOT NULL,
    n               BIGINT NOT NULL,
    PRIMARY KEY (store_id, status, order_type, submit_status)
);
INSERT INTO order_counts (store_id, status, order_type, submit_status, n)
SELECT store_id, status, order_type, submit_status, COUNT(*) FROM orders
GROUP BY store_id, status, order_type, submit_status;

-- When the customer placed the order (RFC 3339 in UTC, written by Pressroom from the order
-- as customer_search is), for the date filter.
ALTER TABLE orders ADD COLUMN placed_at TEXT;
UPDATE orders SET placed_at = data::jsonb ->> 'created_at';

CREATE TABLE order_filters (
    id              BIGINT PRIMARY KEY,
    store_id        TEXT NOT NULL,
    number          TEXT NOT NULL,
    store_order_id  BIGINT NOT NULL,
    status          TEXT NOT NULL,
    order_type      TEXT NOT NULL,
    submit_status   TEXT NOT NULL,
    submit_at       BIGINT,
    -- submit_at, or the largest BIGINT when there is none: "soonest submission first" is an
    -- index order (orders without a countdown last).
    submit_key      BIGINT NOT NULL,
    -- Lowercased customer name and email.
    search          TEXT NOT NULL,
    -- When the customer placed the order (orders.placed_at), compared as text.
    placed_at       TEXT
);
INSERT INTO order_filters (id, store_id, number, store_order_id, status, order_type, submit_status, submit_at, submit_key, search, placed_at)
SELECT id, store_id, number, store_order_id, status, order_type, submit_status, submit_at, COALESCE(submit_at, 9223372036854775807), customer_search, placed_at FROM orders;
CREATE INDEX order_filters_store ON order_filters (store_id, id);
CREATE INDEX order_filters_number ON order_filters (number);
CREATE INDEX order_filters_store_order ON order_filters (store_order_id);
CREATE INDEX order_filters_submit ON order_filters (submit_key, id DESC);
CREATE INDEX order_filters_store_submit ON order_filters (store_id, submit_key, id DESC);
CREATE INDEX order_filters_status_submit ON order_filters (status, submit_key, id DESC);
CREATE INDEX order_filters_store_status_submit ON order_filters (store_id, status, submit_key, id DESC);

-- Substring search by trigrams where pg_trgm can be had (it is a trusted extension on
-- PostgreSQL 13+, so a database owner may create it); without it the search scans the narrow
-- rows, which is slower but still right.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%); the dashboard search scans instead', SQLERRM;
END
$$;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE 'CREATE INDEX order_filters_search ON order_filters USING gin (search gin_trgm_ops)';
    END IF;
END
$$;

CREATE FUNCTION order_count_add(s TEXT, st TEXT, t TEXT, sub TEXT, delta BIGINT) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO order_counts (store_id, status, order_type, submit_status, n)
    VALUES (s, st, t, sub, delta)
    ON CONFLICT (store_id, status, order_type, submit_status) DO UPDATE SET n = order_counts.n + delta;
$$;

CREATE FUNCTION orders_dashboard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM order_count_add(NEW.store_id, NEW.status, NEW.order_type, NEW.submit_status, 1);
        INSERT INTO order_filters (id, store_id, number, store_order_id, status, order_type, submit_status, submit_at, submit_key, search, placed_at)
        VALUES (NEW.id, NEW.store_id, NEW.number, NEW.store_order_id, NEW.status, NEW.order_type, NEW.submit_status, NEW.submit_at, COALESCE(NEW.submit_at, 9223372036854775807), NEW.customer_search, NEW.placed_at);
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        PERFORM order_count_add(OLD.store_id, OLD.status, OLD.order_type, OLD.submit_status, -1);
        DELETE FROM order_filters WHERE id = OLD.id;
        RETURN NULL;
    END IF;
    IF ROW(OLD.store_id, OLD.status, OLD.order_type, OLD.submit_status)
        IS DISTINCT FROM ROW(NEW.store_id, NEW.status, NEW.order_type, NEW.submit_status) THEN
        -- The two counters are changed in key order, so two orders moving in opposite
        -- directions at once lock them in the same order and cannot deadlock.
        IF ROW(OLD.store_id, OLD.status, OLD.order_type, OLD.submit_status)
            < ROW(NEW.store_id, NEW.status, NEW.order_type, NEW.submit_status) THEN
            PERFORM order_count_add(OLD.store_id, OLD.status, OLD.order_type, OLD.submit_status, -1);
            PERFORM order_count_add(NEW.store_id, NEW.status, NEW.order_type, NEW.submit_status, 1);
        ELSE
            PERFORM order_count_add(NEW.store_id, NEW.status, NEW.order_type, NEW.submit_status, 1);
            PERFORM order_count_add(OLD.store_id, OLD.status, OLD.order_type, OLD.submit_status, -1);
        END IF;
    END IF;
    IF ROW(OLD.store_id, OLD.number, OLD.store_order_id, OLD.status, OLD.order_type, OLD.submit_status, OLD.submit_at, OLD.customer_search, OLD.placed_at)
        IS DISTINCT FROM ROW(NEW.store_id, NEW.number, NEW.store_order_id, NEW.status, NEW.order_type, NEW.submit_status, NEW.submit_at, NEW.customer_search, NEW.placed_at) THEN
        UPDATE order_filters SET store_id = NEW.store_id, number = NEW.number, store_order_id = NEW.store_order_id,
            status = NEW.status, order_type = NEW.order_type, submit_status = NEW.submit_status,
            submit_at = NEW.submit_at, submit_key = COALESCE(NEW.submit_at, 9223372036854775807), search = NEW.customer_search, placed_at = NEW.placed_at
        WHERE id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER orders_dashboard AFTER INSERT OR UPDATE OR DELETE ON orders
FOR EACH ROW EXECUTE FUNCTION orders_dashboard();

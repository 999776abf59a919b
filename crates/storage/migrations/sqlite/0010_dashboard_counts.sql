-- The dashboard at 100,000 orders and beyond. Two tables kept by triggers, so every path that
-- writes an order keeps them right:
-- * order_counts: how many orders each (store, status, type, submit status) has. The
--   dashboard's totals and status counts add up these few rows instead of counting orders.
-- * order_filters: a narrow copy of each order's filter and search columns. A filtered or
--   searched page scans these short rows (newest first, stopping at the page's end), never the
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
UPDATE orders SET placed_at = json_extract(data, '$.created_at');

CREATE TABLE order_filters (
    id              INTEGER PRIMARY KEY,
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
-- A merchant's rows in id order with every filter column, so their pages read this index
-- alone, never the table.
CREATE INDEX order_filters_store ON order_filters (store_id, id, status, order_type, submit_status, submit_key, number, placed_at, search);
CREATE INDEX order_filters_number ON order_filters (number);
CREATE INDEX order_filters_store_order ON order_filters (store_order_id);
CREATE INDEX order_filters_submit ON order_filters (submit_key, id DESC);
CREATE INDEX order_filters_store_submit ON order_filters (store_id, submit_key, id DESC);
CREATE INDEX order_filters_status_submit ON order_filters (status, submit_key, id DESC);
CREATE INDEX order_filters_store_status_submit ON order_filters (store_id, status, submit_key, id DESC);

CREATE TRIGGER orders_dashboard_insert AFTER INSERT ON orders BEGIN
    INSERT INTO order_counts (store_id, status, order_type, submit_status, n)
    VALUES (NEW.store_id, NEW.status, NEW.order_type, NEW.submit_status, 1)
    ON CONFLICT (store_id, status, order_type, submit_status) DO UPDATE SET n = order_counts.n + 1;
    INSERT INTO order_filters (id, store_id, number, store_order_id, status, order_type, submit_status, submit_at, submit_key, search, placed_at)
    VALUES (NEW.id, NEW.store_id, NEW.number, NEW.store_order_id, NEW.status, NEW.order_type, NEW.submit_status, NEW.submit_at, COALESCE(NEW.submit_at, 9223372036854775807), NEW.customer_search, NEW.placed_at);
END;

CREATE TRIGGER orders_dashboard_delete AFTER DELETE ON orders BEGIN
    UPDATE order_counts SET n = n - 1
    WHERE store_id = OLD.store_id AND status = OLD.status AND order_type = OLD.order_type AND submit_status = OLD.submit_status;
    DELETE FROM order_filters WHERE id = OLD.id;
END;

CREATE TRIGGER orders_dashboard_count AFTER UPDATE OF store_id, status, order_type, submit_status ON orders
WHEN OLD.store_id <> NEW.store_id OR OLD.status <> NEW.status OR OLD.order_type <> NEW.order_type OR OLD.submit_status <> NEW.submit_status
BEGIN
    UPDATE order_counts SET n = n - 1
    WHERE store_id = OLD.store_id AND status = OLD.status AND order_type = OLD.order_type AND submit_status = OLD.submit_status;
    INSERT INTO order_counts (store_id, status, order_type, submit_status, n)
    VALUES (NEW.store_id, NEW.status, NEW.order_type, NEW.submit_status, 1)
    ON CONFLICT (store_id, status, order_type, submit_status) DO UPDATE SET n = order_counts.n + 1;
END;

CREATE TRIGGER orders_dashboard_filters AFTER UPDATE OF store_id, number, store_order_id, status, order_type, submit_status, submit_at, customer_search, placed_at ON orders
WHEN OLD.store_id <> NEW.store_id OR OLD.number <> NEW.number OR OLD.store_order_id <> NEW.store_order_id
    OR OLD.status <> NEW.status OR OLD.order_type <> NEW.order_type OR OLD.submit_status <> NEW.submit_status
    OR OLD.submit_at IS NOT NEW.submit_at OR OLD.customer_search <> NEW.customer_search
    OR OLD.placed_at IS NOT NEW.placed_at
BEGIN
    UPDATE order_filters SET store_id = NEW.store_id, number = NEW.number, store_order_id = NEW.store_order_id,
        status = NEW.status, order_type = NEW.order_type, submit_status = NEW.submit_status,
        submit_at = NEW.submit_at, submit_key = COALESCE(NEW.submit_at, 9223372036854775807), search = NEW.customer_search,
        placed_at = NEW.placed_at
    WHERE id = NEW.id;
END;

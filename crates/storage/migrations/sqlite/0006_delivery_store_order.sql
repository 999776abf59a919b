-- Which store order a delivery is about (read from its body at intake), so the deliveries of
-- one order are processed in the order they arrived: a deletion that overtook the creation of
-- its order waits behind it instead of finding no order.
ALTER TABLE webhook_deliveries ADD COLUMN store_order_id BIGINT;
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (store_id, store_order_id, id);

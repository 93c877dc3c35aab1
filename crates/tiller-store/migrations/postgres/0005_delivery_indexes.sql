-- The claim's ordering check ("no earlier pending delivery of this key to this endpoint")
-- must use the partial index webhook_deliveries_order. On a PostgreSQL table without
-- statistics yet, the planner preferred (endpoint_id, state) and filtered every pending
-- delivery of the endpoint for every candidate: quadratic. Pending deliveries are counted
-- through webhook_deliveries_order (it covers exactly them); this index serves the
-- settled ones for endpoint_health.
DROP INDEX webhook_deliveries_endpoint_state;
CREATE INDEX webhook_deliveries_endpoint_settled ON webhook_deliveries (endpoint_id, state)
    WHERE state <> 'pending';

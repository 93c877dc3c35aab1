-- The seat directory: the agents a tenant's messages and sessions name by `seat_id`, with
-- the name and e-mail nxlink chat records show (`agent_name`, `agent_account`). The e-mail
-- is stored lower-cased (core's `SeatEmail`) and is unique per tenant. Instants are unix
-- ms.
CREATE TABLE seats (
    tenant_id   BIGINT  NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seat_id     TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    email       TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, seat_id),
    CONSTRAINT seats_email_key UNIQUE (tenant_id, email)
);

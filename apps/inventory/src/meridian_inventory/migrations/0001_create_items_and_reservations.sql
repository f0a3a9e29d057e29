-- Stock per SKU. The CHECK constraints are the last line of defence against overselling: a bug that
-- slipped past the conditional UPDATE in Reserve would fail the transaction instead.
CREATE TABLE items (
    sku         text PRIMARY KEY,
    name        text NOT NULL,
    available   bigint NOT NULL CHECK (available >= 0),
    reserved    bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    update_time timestamptz NOT NULL DEFAULT now()
);

-- One row per order: the primary key is what makes Reserve idempotent on the order id.
CREATE TABLE reservations (
    order_id    text PRIMARY KEY,
    sku         text NOT NULL REFERENCES items (sku),
    quantity    bigint NOT NULL CHECK (quantity > 0),
    state       text NOT NULL CHECK (state IN ('active', 'released')),
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX reservations_sku_idx ON reservations (sku);

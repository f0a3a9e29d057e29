-- request_id is unique: it is what makes CreateOrder idempotent. seq gives ListOrders a stable,
-- gap-tolerant order for keyset paging.
CREATE TABLE orders (
    id          uuid PRIMARY KEY,
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    request_id  text NOT NULL UNIQUE,
    customer_id text NOT NULL,
    sku         text NOT NULL,
    quantity    bigint NOT NULL CHECK (quantity > 0),
    state       text NOT NULL CHECK (state IN ('pending', 'confirmed', 'cancelled')),
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now()
);

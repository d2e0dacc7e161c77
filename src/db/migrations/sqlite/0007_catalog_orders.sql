-- 0007_catalog_orders (SQLite): services, their stocked variants, orders
-- and the order history. Keep parallel to pgsql/0007_catalog_orders.sql.
-- Owners: services + variants (src/catalog), orders + order_history (src/orders).

CREATE TABLE services (
    id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL REFERENCES vendor_profiles (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX services_created_idx ON services (created_at, id);
CREATE INDEX services_vendor_idx ON services (vendor_id, created_at, id);
CREATE INDEX services_category_idx ON services (category, created_at, id);

-- stock is only ever changed by one conditional statement
-- (stock = stock - q WHERE stock >= q); the CHECK is the last line of defence.
CREATE TABLE variants (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    price BIGINT NOT NULL CHECK (price > 0),
    currency TEXT NOT NULL DEFAULT 'usd',
    estimated_minutes INTEGER NOT NULL DEFAULT 0 CHECK (estimated_minutes >= 0),
    stock BIGINT NOT NULL CHECK (stock >= 0),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX variants_service_idx ON variants (service_id, created_at, id);

-- customer_email, vendor_name, variant_name and unit_price are what the
-- customer bought, kept as they were at the time (the invoice's facts).
-- payment_id is the current checkout (payments.id); paid_payment_id the one
-- that paid. cancel_reason: customer | expired | checkout_failed.
CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES users (id),
    vendor_id TEXT NOT NULL REFERENCES vendor_profiles (id),
    vendor_user_id TEXT NOT NULL REFERENCES users (id), -- the profile's owner: who acts as vendor
    service_id TEXT NOT NULL REFERENCES services (id),
    variant_id TEXT NOT NULL REFERENCES variants (id),
    customer_email TEXT NOT NULL,
    vendor_name TEXT NOT NULL,
    service_name TEXT NOT NULL,
    variant_name TEXT NOT NULL,
    unit_price BIGINT NOT NULL CHECK (unit_price > 0),
    quantity INTEGER NOT NULL CHECK (quantity >= 1),
    total_amount BIGINT NOT NULL CHECK (total_amount > 0),
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'processing', 'completed',
                                           'cancelled', 'failed', 'refunded')),
    cancel_reason TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    payment_id TEXT,
    paid_payment_id TEXT,
    payment_url TEXT,
    checkout_expires_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX orders_customer_idx ON orders (customer_id, created_at, id);
CREATE INDEX orders_vendor_idx ON orders (vendor_id, created_at, id);
CREATE INDEX orders_vendor_user_idx ON orders (vendor_user_id, created_at, id);
CREATE INDEX orders_service_idx ON orders (service_id);
CREATE INDEX orders_variant_idx ON orders (variant_id);
CREATE INDEX orders_status_idx ON orders (status, checkout_expires_at);

-- Every status change of an order (and the facts about money that do not
-- change the status, such as a late payment refunded: from = to).
-- actor: customer | vendor | admin | system | provider; actor_id a user id.
CREATE TABLE order_history (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    from_status TEXT,
    to_status TEXT NOT NULL,
    actor TEXT NOT NULL,
    actor_id TEXT,
    note TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX order_history_order_idx ON order_history (order_id, created_at, id);
CREATE INDEX order_history_actor_idx ON order_history (actor_id);

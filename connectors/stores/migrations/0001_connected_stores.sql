-- The stores merchants connected: who they are, and their credentials sealed (connectors/stores/sealing.py).
CREATE SCHEMA IF NOT EXISTS connectors;

CREATE TABLE connectors.stores (
    platform text NOT NULL,
    store_id text NOT NULL,
    merchant_email text NOT NULL,
    status text NOT NULL CHECK (status IN ('connected', 'disconnected')),
    -- A Fernet token of the credentials and the store they belong to; gone once the store is disconnected.
    credentials bytea,
    -- Bumped by every change of the credentials: a refresh writes only over the version it read.
    credentials_version bigint NOT NULL DEFAULT 1,
    connected_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    disconnected_at timestamptz,
    disconnect_reason text,
    PRIMARY KEY (platform, store_id),
    CHECK ((status = 'connected') = (credentials IS NOT NULL))
);

CREATE INDEX stores_connected ON connectors.stores (platform, store_id) WHERE status = 'connected';

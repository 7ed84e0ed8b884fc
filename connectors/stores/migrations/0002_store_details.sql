-- What a connector needs to reach a store besides its credentials, none of it secret: its address
-- (`base_url`) and how it is polled (`poll_interval`, `lookback`, `start_from`), as the YAML would give them.
ALTER TABLE connectors.stores ADD COLUMN details jsonb NOT NULL DEFAULT '{}'::jsonb;

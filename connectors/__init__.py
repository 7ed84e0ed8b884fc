"""Per-platform connectors: each turns a platform's orders into OrderReceived/OrderUpdated events."""

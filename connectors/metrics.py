"""Prometheus metrics of a connector process, served at /metrics."""

from prometheus_client import Counter, Histogram

WEBHOOKS = Counter("connector_webhooks_total", "Webhooks received, by result", ["platform", "result"])
POLLS = Counter("connector_polls_total", "Polls of a store, by result", ["platform", "store", "result"])
ORDERS_PUBLISHED = Counter("connector_orders_published_total", "Events published", ["platform", "event_type"])
DUPLICATES = Counter("connector_duplicates_total", "Orders seen again unchanged or stale", ["platform", "verdict"])
DEAD_LETTERS = Counter("connector_dead_letters_total", "Bodies or orders we could not map", ["platform", "source"])
API_ERRORS = Counter("connector_api_errors_total", "Platform API errors, by status or kind", ["platform", "status"])
BUDGET_WAITS = Counter("connector_budget_waits_total", "Requests that waited for room in the quota", ["platform"])
RATE_LIMIT_WAITS = Counter("connector_rate_limit_waits_total", "429 answers waited out", ["platform"])
WEBHOOK_SECONDS = Histogram(
    "connector_webhook_seconds",
    "Webhook handling time",
    ["platform"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

"""The editor's Prometheus metrics, served at `/metrics`."""

from prometheus_client import Counter, Histogram

PAGES = Counter("editor_pages_total", "Link pages shown, by what was shown", ["page"])
COMPLETIONS = Counter("editor_completions_total", "Completion submissions, by outcome", ["result"])
REPUBLISHED = Counter("editor_completions_republished_total", "Completions published by the republisher")
REFUSED = Counter("editor_requests_refused_total", "Requests refused, by reason", ["reason"])
SECONDS = Histogram("editor_request_seconds", "Time to answer a link request", ["route"])
LINKS_OPENED = Counter("editor_links_opened_total", "First opens of links reported, by outcome", ["result"])
OPENED_REPUBLISHED = Counter("editor_links_opened_republished_total", "First opens published by the republisher")
ASSETS_SWEPT = Counter("editor_assets_deleted_total", "Stored photos deleted by the retention sweep")
SET_ASIDE = Counter(
    "editor_claims_set_aside_total", "Claimed events that can never be published, dead-lettered", ["event"]
)

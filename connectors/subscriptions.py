"""Webhook subscriptions a connector keeps on the platforms that register them by API (WooCommerce,
BigCommerce, Squarespace): what a platform's `subscriptions` module reports after making them right.

Each such platform has `connectors/<platform>/subscriptions.py` with
`async def ensure(api: PlatformClient, store: StoreConfig, callback_url: str) -> HookHealth`: it lists the
store's webhooks, creates what is missing, re-enables or recreates what the platform disabled or deleted,
and says what it found. The schedule that calls it and how its answer sets the poll rate are
`connectors.hook_health`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class HookHealth:
    """What one `ensure` found and did; `healthy` means every topic we need is delivered to us now."""

    wanted: tuple[str, ...]  # the platform's topics we subscribe to
    found_active: tuple[str, ...] = ()
    created: tuple[str, ...] = ()  # missing, created now
    revived: tuple[str, ...] = ()  # disabled or paused by the platform, re-enabled or recreated now
    problems: tuple[str, ...] = field(default=())  # words for the operator: a topic we could not make right

    @property
    def healthy(self) -> bool:
        """Every wanted topic is delivered now (found active, created or revived), and nothing failed."""
        have = set(self.found_active) | set(self.created) | set(self.revived)
        return not self.problems and set(self.wanted) <= have

    @property
    def repaired(self) -> bool:
        """Something was missing or disabled: orders may have been missed meanwhile (the poll finds them)."""
        return bool(self.created or self.revived)

"""Webhook subscriptions a connector keeps on the platforms that register them by API (WooCommerce,
BigCommerce, Squarespace): what a platform's `subscriptions` module reports after making them right.

Each such platform has `connectors/<platform>/subscriptions.py` with
`async def ensure(api: PlatformClient, store: StoreConfig, callback_url: str) -> HookHealth`: it lists the
store's webhooks, creates what is missing, re-enables or recreates what the platform disabled or deleted,
and says what it found. The schedule that calls it and how its answer sets the poll rate are
`connectors.hook_health`.

A platform that hands out a secret only when a webhook is created (Squarespace) takes a keyword `save` too
(`SaveCredentials`): the new secrets must reach the registry, or the webhook delivers what nobody can verify.
`registry_writer` is that `save` for a store of the registry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from connectors.stores.registry import StoreRegistry

WRITE_ATTEMPTS = 5  # compare-and-set rounds against concurrent token refreshes before giving up

SaveCredentials = Callable[[Mapping[str, str | None]], Awaitable[None]]
"""Write these credentials of the store (None deletes one), keeping the rest as the registry has them."""


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


def registry_writer(
    registry: StoreRegistry, platform: str, store_id: str, then: Callable[[], Awaitable[object]] | None = None
) -> SaveCredentials:
    """`save` for `ensure`: merged over the registry's credentials with its compare-and-set, retried when a
    refresh wrote first; then `then()` (publish `StoreUpdated`, so every copy verifies with the new secrets)."""

    async def save(changes: Mapping[str, str | None]) -> None:
        for _ in range(WRITE_ATTEMPTS):
            kept = await registry.credentials(platform, store_id)
            merged = {name: value for name, value in {**kept.values, **changes}.items() if value is not None}
            if await registry.replace_credentials(platform, store_id, merged, expected_version=kept.version):
                if then is not None:
                    await then()
                return
        raise RuntimeError(f"credentials of {platform}:{store_id} kept changing; {WRITE_ATTEMPTS} writes lost")

    return save

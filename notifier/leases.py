"""One notifier copy's claims while it works on them: fenced, renewed, checked before every email and publish.

- Each copy has its own owner name; a claim is held under a fence
  (`notifier/due.py`). Before a step that leaves the notifier (an email, an
  event), the copy calls `hold()`: one Redis call that checks the fence and
  renews the lease. A copy whose lease ran out and whose member another copy
  claimed again fails it and stops (`ClaimLost`), sending nothing more.
- `keep_alive()` renews every claim in progress every third of the lease, so
  a slow SMTP server or a queue for a connection does not lose it in the
  first place; the member is then never claimed twice while its copy lives.
- What is left: a copy that stops answering (frozen, or cut off from Redis)
  for longer than a lease while an email is on the wire; its claim is then
  taken over and the email can go twice (docs/emails.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime

from notifier.due import Claim, Timers

log = logging.getLogger(__name__)


class ClaimLost(Exception):
    """Another copy holds the member now, under a later epoch: stop, send and publish nothing more."""


def new_owner() -> str:
    """This copy, as claims name it: host and process (for an operator), and a random part (never reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """One claimed member while its copy works on it."""

    def __init__(self, leases: Leases, claim: Claim) -> None:
        self._leases, self.claim = leases, claim
        self.ends = asyncio.get_running_loop().time() + leases.lease_s  # event-loop time; renewals move it
        self.done = False

    @property
    def member(self) -> str:
        return self.claim.member

    async def hold(self) -> None:
        """Still ours? (and renewed); else `ClaimLost`. Called right before an email or a publish."""
        if self.member not in await self._leases.renew([self]):
            raise ClaimLost(f"{self.member}: no longer held under {self.claim.fence}")

    async def release(self, when: datetime | None = None) -> None:
        """Let go, due at `when` (or kept as it is); nothing if another copy holds it now."""
        if self.done:
            return
        self.done = True
        self._leases.active.pop(self.member, None)
        await self._leases.timers.release(self.claim, when)


class Leases:
    """The claims one copy holds on one set of timers."""

    def __init__(self, timers: Timers, lease_s: float, clock: Callable[[], datetime], owner: str | None = None) -> None:
        self.timers, self.lease_s, self._clock = timers, lease_s, clock
        self.owner = owner or new_owner()
        self.active: dict[str, Lease] = {}

    def _held(self, claims: list[Claim]) -> list[Lease]:
        leases = [Lease(self, claim) for claim in claims]
        self.active.update((lease.member, lease) for lease in leases)
        return leases

    async def claim(self, limit: int) -> list[Lease]:
        """Up to `limit` due members, each held by this copy."""
        if limit <= 0:
            return []
        return self._held(await self.timers.claim(self._clock(), self.lease_s, self.owner, limit))

    async def take(self, member: str) -> Lease | None:
        """`member` held by this copy now, whatever its time; None if another copy holds it."""
        claim = await self.timers.take(member, self._clock(), self.lease_s, self.owner)
        return self._held([claim])[0] if claim else None

    async def renew(self, leases: list[Lease] | None = None) -> set[str]:
        """Renew `leases` (every one in progress if not named); the members still held. The lost ones are dropped:
        their next `hold()` fails."""
        leases = list(self.active.values()) if leases is None else leases
        ends = asyncio.get_running_loop().time() + self.lease_s  # taken before the call: never later than the lease
        held = await self.timers.renew([lease.claim for lease in leases], self._clock(), self.lease_s)
        for lease in leases:
            if lease.member in held:
                lease.ends = ends
            elif self.active.get(lease.member) is lease:
                log.warning("lost the claim on %s to another copy; it sends nothing more for it", lease.member)
                del self.active[lease.member]
        return held

    async def keep_alive(self, stop: asyncio.Event) -> None:
        """Renew every claim in progress, every third of the lease, until `stop`."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.lease_s / 3)
            except TimeoutError:
                pass
            if self.active and not stop.is_set():
                try:
                    await self.renew()
                except Exception:  # Redis away: the leases run on; the writes after an email wait within them
                    log.exception("renewing %d claim(s) failed; retrying", len(self.active))

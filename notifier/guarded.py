"""One compare-and-set over a few Redis keys: check what a decision read, then make its writes, all at once.

The link store's only Lua, and it knows no rule: the caller says which hash
fields must still hold which values, which field must still exist, which hash
must still be exactly as read, which input event id must be new (it is then
remembered), and which commands to run if all holds. Every value travels as
the string redis-py would have sent, so what is stored is byte for byte what
the notifier always stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from redis.asyncio import Redis

_APPLY = """
local change = cjson.decode(ARGV[1])
local seen = change.seen
if seen[1] and redis.call('SISMEMBER', KEYS[seen[1]], seen[2]) == 1 then return 'duplicate' end
for _, f in ipairs(change.fields) do
  if (redis.call('HGET', KEYS[f[1]], f[2]) or f[4]) ~= f[3] then return 'conflict' end
end
for _, f in ipairs(change.present) do
  if redis.call('HEXISTS', KEYS[f[1]], f[2]) == 0 then return 'conflict' end
end
for _, h in ipairs(change.hashes) do
  local count = 0
  for name, value in pairs(h[2]) do
    if redis.call('HGET', KEYS[h[1]], name) ~= value then return 'conflict' end
    count = count + 1
  end
  if redis.call('HLEN', KEYS[h[1]]) ~= count then return 'conflict' end
end
if seen[1] then
  redis.call('SADD', KEYS[seen[1]], seen[2])
  redis.call('EXPIRE', KEYS[seen[1]], seen[3])
end
for _, command in ipairs(change.writes) do
  redis.call(command[1], KEYS[command[2]], unpack(command, 3))
end
return 'applied'
"""

Value = str | int | float


def _text(value: Value) -> str:
    return repr(value) if isinstance(value, float) else str(value)  # as redis-py encodes a float: repr


class Applied(StrEnum):
    APPLIED = "applied"
    CONFLICT = "conflict"
    DUPLICATE = "duplicate"


@dataclass
class Change:
    """What one guarded write checks and does. Keys are named once and referred to by position."""

    keys: list[str] = field(default_factory=list)
    fields: list[list[object]] = field(default_factory=list)
    present: list[list[object]] = field(default_factory=list)
    hashes: list[list[object]] = field(default_factory=list)
    seen: list[object] = field(default_factory=list)
    writes: list[list[object]] = field(default_factory=list)

    def _at(self, key: str) -> int:
        if key not in self.keys:
            self.keys.append(key)
        return self.keys.index(key) + 1

    def expect(self, key: str, name: str, value: Value | None, *, absent: str = "") -> Change:
        """Field `name` still holds `value` (a missing field counts as `absent`; `None` means missing)."""
        self.fields.append([self._at(key), name, absent if value is None else _text(value), absent])
        return self

    def expect_present(self, key: str, name: str) -> Change:
        self.present.append([self._at(key), name])
        return self

    def expect_hash(self, key: str, stored: Mapping[str, str]) -> Change:
        """The hash holds exactly `stored`: no field more, none less, none changed."""
        self.hashes.append([self._at(key), dict(stored)])
        return self

    def remember(self, key: str, event_id: str, ttl_s: int) -> Change:
        """Refuse the whole change as a duplicate if `event_id` is in set `key`; else add it (expiring)."""
        self.seen = [self._at(key), event_id, str(ttl_s)]
        return self

    def run(self, command: str, key: str, *args: Value) -> Change:
        self.writes.append([command, self._at(key), *map(_text, args)])
        return self

    def payload(self) -> str:
        return json.dumps(
            {
                "fields": self.fields,
                "present": self.present,
                "hashes": self.hashes,
                "seen": self.seen,
                "writes": self.writes,
            }
        )


class GuardedWrites:
    def __init__(self, redis: Redis) -> None:
        self._script = redis.register_script(_APPLY)

    async def apply(self, change: Change) -> Applied:
        result = await self._script(keys=change.keys, args=[change.payload()])
        return Applied(result.decode() if isinstance(result, bytes) else result)

"""The timers' Lua (`notifier/due.py`): claim, take, renew and let go, each one atomic step in Redis.

A member's lease is `<lease end>[,<wanted>]` in `<key>:leases`: the end of
its holder's lease, and the earliest time a writer set while it was held
(found when the score is no longer the lease end), applied when the holder
lets go.
"""

from __future__ import annotations

# KEYS: the timers, their claims (member -> fence), leases (member -> "<lease end>[,<wanted>]"), the epoch.
_LUA_LEASE = """
-- Times travel as the strings Redis gave or was given: Lua's own number formatting would round them.
local function lease_of(m)
  local held = redis.call('HGET', KEYS[3], m)
  if not held then return nil, nil end
  local u, w = string.match(held, '^([^,]+),?(.*)$')
  return u, (w ~= '' and w or nil)
end
local function wanted(m, u, w)
  local score = redis.call('ZSCORE', KEYS[1], m)
  if score and tonumber(score) ~= tonumber(u) and (w == nil or tonumber(score) < tonumber(w)) then w = score end
  return w, score
end
local function put(m, u, w)
  redis.call('HSET', KEYS[3], m, w and (u .. ',' .. w) or u)
end
"""

CLAIM = (
    _LUA_LEASE
    + """
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[3])
local fence, got = nil, {}
while #got < limit do
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, limit - #got)
  if #due == 0 then break end
  for _, m in ipairs(due) do
    local u, w = lease_of(m)
    if u and tonumber(u) > now and redis.call('HEXISTS', KEYS[2], m) == 1 then
      w = wanted(m, u, w)  -- held: a writer wanted it sooner; the holder applies that when it lets go
      put(m, u, w)
      redis.call('ZADD', KEYS[1], u, m)
    else
      fence = fence or (redis.call('INCR', KEYS[4]) .. '/' .. ARGV[4])
      redis.call('ZADD', KEYS[1], ARGV[2], m)
      redis.call('HSET', KEYS[2], m, fence)
      put(m, ARGV[2], nil)
      got[#got + 1] = m
    end
  end
end
return {fence or '', got}
"""
)

TAKE = (
    _LUA_LEASE
    + """
local m, now = ARGV[1], tonumber(ARGV[2])
local u = lease_of(m)
if u and tonumber(u) > now and redis.call('HEXISTS', KEYS[2], m) == 1 then return false end
local fence = redis.call('INCR', KEYS[4]) .. '/' .. ARGV[4]
local score = redis.call('ZSCORE', KEYS[1], m)
redis.call('HSET', KEYS[2], m, fence)
put(m, ARGV[3], nil)
if score then redis.call('ZADD', KEYS[1], ARGV[3], m) end  -- as a claim: not due while held; off the timer stays off
return fence
"""
)

RENEW = (
    _LUA_LEASE
    + """
local held = {}
for i = 2, #ARGV, 2 do
  local m = ARGV[i]
  if redis.call('HGET', KEYS[2], m) == ARGV[i + 1] then
    local u, w = lease_of(m)
    local w2, score = wanted(m, u or '0', w)
    if score then redis.call('ZADD', KEYS[1], ARGV[1], m) end  -- gone from the timers (forgotten): stays gone
    put(m, ARGV[1], w2)
    held[#held + 1] = m
  end
end
return held
"""
)

RELEASE = (
    _LUA_LEASE
    + """
local m = ARGV[1]
if redis.call('HGET', KEYS[2], m) ~= ARGV[2] then return 0 end
local u, w = lease_of(m)
local w2, score = wanted(m, u or '0', w)
redis.call('HDEL', KEYS[2], m)
redis.call('HDEL', KEYS[3], m)
if ARGV[3] == '' then
  if w2 and score then redis.call('ZADD', KEYS[1], w2, m) end
  return 1
end
local at = ARGV[3]
if w2 and tonumber(w2) < tonumber(at) then at = w2 end
redis.call('ZADD', KEYS[1], at, m)
return 1
"""
)

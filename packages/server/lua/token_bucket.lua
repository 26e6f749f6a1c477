--[[
  Atomic token-bucket rate limiter: take `cost` tokens if the bucket has them.

  Input:
    KEYS[1] bucket           hash { tokens = tokens left (may be fractional), ts = when they were counted (ms) }

    ARGV[1] capacity         tokens a full bucket holds (the burst), > 0
    ARGV[2] refillPerSecond  tokens added per second, > 0
    ARGV[3] nowMs            the caller's clock in ms since the epoch, or "" to use the Redis server's clock
    ARGV[4] cost             tokens this call takes, > 0 and <= capacity

  Output:
    { allowed (1 or 0), remaining whole tokens, ms until `cost` tokens are available (0 when allowed) }
    -1  an argument is missing, not a number, or out of range
    -2  cost exceeds capacity: the call could never be allowed

  Time: production callers pass "" so every gateway replica sharing a bucket is measured against one
  clock (Redis's TIME; scripts are replicated by effect since Redis 5, so TIME is allowed). Tests pass
  their own clock to drive refills without sleeping. Either way the stored `ts` never moves
  backwards: a caller whose clock lags gets no refill instead of rewinding the bucket and being
  credited the same interval twice.
]]

local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[4])
local now
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[3])
end

-- x ~= x is NaN; math.huge rules out infinities that tonumber accepts.
local function valid(x)
  return x ~= nil and x == x and x > 0 and x < math.huge
end
if not valid(capacity) or not valid(rate) or not valid(cost) or now == nil or now ~= now or now < 0 or now >= math.huge then
  return -1
end
if cost > capacity then
  return -2
end

local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end

if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate / 1000)
  ts = now
end
-- A smaller capacity than when the bucket was filled applies at once.
tokens = math.min(tokens, capacity)

-- Refills are fractional, so compare with a tolerance: 0.998 + 0.002 must count as 1.
local EPSILON = 1e-9
local allowed = 0
local wait = 0
if tokens + EPSILON >= cost then
  tokens = math.max(0, tokens - cost)
  allowed = 1
else
  wait = math.max(1, math.ceil((cost - tokens) * 1000 / rate - EPSILON))
end

redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
-- Once idle long enough to refill completely, a bucket is the same as no bucket, so it may expire;
-- the extra second covers rounding and the caller/server clock difference.
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / rate) + 1000)

return { allowed, math.floor(tokens), wait }

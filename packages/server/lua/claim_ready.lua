--[[
  Promotes the due delayed jobs of one tenant/pool/type queue, then pops the best ready ones.
  Redis holds ids and routing data only; PostgreSQL re-checks every popped id before leasing it,
  so a stale entry here can never run a job twice.

  KEYS[1] ready    sorted set: member = job id, score = rank = (100 - priority) * 2^41 + (run-at - epoch)
  KEYS[2] delayed  sorted set: member = "<priority>|<job id>", score = run-at (ms since the Unix epoch)
  ARGV[1] now      ms since the Unix epoch
  ARGV[2] max      the most jobs to pop (0 only promotes)
  ARGV[3] epoch    rank epoch in ms

  Returns: { id1, rank1, id2, rank2, ... } best rank first; -1 when ARGV is malformed.
]]
local now = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local epoch = tonumber(ARGV[3])
if not now or not max or not epoch or max < 0 then
  return -1
end
local PRIORITY_STEP = 2199023255552 -- 2^41 ms: about 69 years of run-at range per priority level

-- Bounded per call so one call never holds Redis for long; the rest is promoted by later calls.
local due = redis.call('ZRANGE', KEYS[2], '-inf', now, 'BYSCORE', 'LIMIT', 0, 500, 'WITHSCORES')
if #due > 0 then
  local adds = {}
  local rems = {}
  for j = 1, #due, 2 do
    local member = due[j]
    local runAt = tonumber(due[j + 1])
    local sep = string.find(member, '|', 1, true)
    if sep then
      local priority = tonumber(string.sub(member, 1, sep - 1)) or 50
      adds[#adds + 1] = (100 - priority) * PRIORITY_STEP + (runAt - epoch)
      adds[#adds + 1] = string.sub(member, sep + 1)
    end
    rems[#rems + 1] = member
  end
  if #adds > 0 then redis.call('ZADD', KEYS[1], unpack(adds)) end
  redis.call('ZREM', KEYS[2], unpack(rems))
end

if max == 0 then return {} end
return redis.call('ZPOPMIN', KEYS[1], max)

--[[
  Pops the best ready jobs across the job-type queues of one tenant and pool, after promoting
  delayed jobs that have come due. Redis holds ids and routing data only; PostgreSQL re-checks
  every popped id before leasing it, so a stale entry here can never run a job twice.

  KEYS[1..n]     ready sorted sets, one per job type (member = job id, score = rank)
  KEYS[n+1..2n]  delayed sorted sets, same order (member = "<priority>|<job id>", score = run-at ms)
  ARGV[1]        now, ms since the Unix epoch
  ARGV[2]        the most jobs to pop
  ARGV[3]        rank epoch in ms (rank = (100 - priority) * 2^41 + (run-at - epoch))

  Returns: the popped job ids, best rank first. Returns -1 when ARGV is malformed.
]]
local n = #KEYS / 2
local now = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local epoch = tonumber(ARGV[3])
if not now or not max or not epoch or max < 1 or n < 1 or (#KEYS % 2) ~= 0 then
  return -1
end
local PRIORITY_STEP = 2199023255552 -- 2^41 ms, about 69 years of run-at range per priority level

-- Promote due delayed entries (bounded per call so one call never blocks Redis for long).
for i = 1, n do
  local delayed = KEYS[n + i]
  local due = redis.call('ZRANGE', delayed, '-inf', now, 'BYSCORE', 'LIMIT', 0, 500, 'WITHSCORES')
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
    if #adds > 0 then redis.call('ZADD', KEYS[i], unpack(adds)) end
    redis.call('ZREM', delayed, unpack(rems))
  end
end

if n == 1 then
  local popped = redis.call('ZPOPMIN', KEYS[1], max)
  local ids = {}
  for j = 1, #popped, 2 do ids[#ids + 1] = popped[j] end
  return ids
end

-- Several types: take each queue's best `max`, merge by rank, pop the overall best `max`.
local candidates = {}
for i = 1, n do
  local top = redis.call('ZRANGE', KEYS[i], 0, max - 1, 'WITHSCORES')
  for j = 1, #top, 2 do
    candidates[#candidates + 1] = { id = top[j], score = tonumber(top[j + 1]), key = KEYS[i] }
  end
end
table.sort(candidates, function(a, b)
  if a.score == b.score then return a.id < b.id end
  return a.score < b.score
end)
local ids = {}
for j = 1, math.min(max, #candidates) do
  local c = candidates[j]
  redis.call('ZREM', c.key, c.id)
  ids[#ids + 1] = c.id
end
return ids

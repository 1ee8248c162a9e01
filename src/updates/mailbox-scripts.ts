/**
 * The conversation mailboxes in Redis (see docs/architecture.md, "The update pipeline"). Every key of a deployment
 * starts with `<REDIS_PREFIX>:`; `P` below stands for that prefix, `bot` for the gateway's bot id and `ck` for a
 * conversation key (`conversationKey`). A conversation is `bot .. '\n' .. ck` where one string names it.
 *
 *   P:dd:<bot>:<update_id>   dedupe key (string, DEDUPE_TTL_SECONDS)
 *   P:mb:<bot>:<ck>          the mailbox: a list of entries (JSON), oldest first; the head is removed only once it is
 *                            done (processed or dead-lettered), so a crashed worker's update is still there
 *   P:rdy:<bot>              the bot's ready conversations (list of ck)
 *   P:rot                    the rotation: bots with ready conversations and no flood wait, served round robin
 *   P:pause:<bot>            the bot's wait (string with a TTL: '1' a flood wait, 'disabled' while disabled); P:paused:
 *                            bots by the end of their wait
 *   P:delayed                conversations waiting to retry (sorted set, by due time)
 *   P:lease                  conversation → "<worker>:<epoch>" of the worker that runs it
 *   P:wk / P:wk:<worker>     worker heartbeats (sorted set by expiry / a key with a TTL); P:wl:<worker> its leases
 *   P:stall                  conversation → how often its head update was interrupted by a dead worker
 *   P:sig                    wake-up tokens for idle workers (a short list)
 *   P:pending                updates accepted and not yet done (a counter)
 *   P:pb:<lane>              the same, per bot and per destination lane (the tenant's backlog quota is checked
 *                            against it; no key at 0)
 *   P:dlog:<destination>     a destination's log of attempts (a capped stream; replay reads it)
 *   P:st:<destination>       a stream destination's Redis stream (XADD at accept, trimmed to its length)
 *
 * A destination's deliveries run through the same machinery as a bot's updates, in a lane of their own: the lane
 * `<bot>/<destination>` stands where a bot id stands above (its mailboxes, ready list, place in the rotation, pause
 * for its breaker), so they keep conversation order, retry without holding a slot, and are served round robin with
 * the bots. A lane has its own backlog count (P:pb:<lane>), so a destination that falls behind never refuses the bot's
updates (see ACCEPT).
 *
 * The invariant every script keeps: a conversation whose mailbox is not empty is in exactly one of its bot's ready
 * list, the lease hash, or the delayed set; a bot is in the rotation exactly when its ready list is not empty and it
 * is not in a flood wait. An idle conversation has no key at all.
 */

/** Shared Lua helpers: time, and putting a conversation back on its bot's ready list. */
const LIB = `
local P = ARGV[1]
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function split(conv)
  local i = string.find(conv, '\\n', 1, true)
  return string.sub(conv, 1, i - 1), string.sub(conv, i + 1)
end
local function wake()
  if redis.call('LLEN', P .. 'sig') < 16 then redis.call('RPUSH', P .. 'sig', '1') end
end
-- Makes a conversation ready: at the end of its bot's list, or at its head (first = true) for one that was
-- interrupted; enters the bot in the rotation if it was not (and is not in a flood wait).
local function ready(bot, ck, first)
  local rdy = P .. 'rdy:' .. bot
  local n
  if first then n = redis.call('LPUSH', rdy, ck) else n = redis.call('RPUSH', rdy, ck) end
  if n == 1 and redis.call('EXISTS', P .. 'pause:' .. bot) == 0 then
    if first then redis.call('LPUSH', P .. 'rot', bot) else redis.call('RPUSH', P .. 'rot', bot) end
    wake()
  end
end
-- The bot a lane belongs to: a destination's lane is '<bot>/<destination>', a bot's own lane its id.
local function owner(lane)
  local i = string.find(lane, '/', 1, true)
  if i then return string.sub(lane, 1, i - 1) end
  return lane
end
local function release(conv, worker)
  redis.call('HDEL', P .. 'lease', conv)
  redis.call('SREM', P .. 'wl:' .. worker, conv)
end
local function owns(conv, lease)
  return redis.call('HGET', P .. 'lease', conv) == lease
end
-- Hands a conversation back to the head of its bot's ready list if the worker still holds it (whatever the epoch);
-- stalled counts its head update as interrupted. True when it did.
local function takeBack(conv, worker, stalled)
  local lease = redis.call('HGET', P .. 'lease', conv)
  if not lease or string.find(lease, worker .. ':', 1, true) ~= 1 then return false end
  local bot, ck = split(conv)
  release(conv, worker)
  if stalled then redis.call('HINCRBY', P .. 'stall', conv, 1) end
  ready(bot, ck, true)
  return true
end
`;

/**
 * Accepts one update. ARGV: prefix, bot, ck, update_id, entry, dedupe TTL (s), most updates one lane may have
 * waiting (0: no limit), legacy dedupe key ('' for none), '1' when the bot's own lane (its features) gets the update,
 * the update's JSON and kind (for streams; '' otherwise), the length of a destination's log of attempts, then the
 * update's destinations: 'L<destination>' (a lane: the entry goes to the mailbox `<bot>/<destination>`),
 * 'S<max length>:<destination>' (XADD to that stream) or 'K<destination>' (disabled: only noted in its log, so that a
 * replay of the time range delivers it later).
 * Returns 1 when stored, 0 for a duplicate, -1 when the bot's own backlog is at its quota (nothing stored, not even
 * the dedupe key, so Telegram's retry is accepted once there is room). A destination whose backlog is at the quota
 * does not hold the update up: it is noted in the destination's log instead (replayable). One script call per update,
 * pipelined with the others of the same event-loop turn.
 */
export const ACCEPT = `${LIB}
local bot, ck = ARGV[2], ARGV[3]
local dd = P .. 'dd:' .. bot .. ':' .. ARGV[4]
local limit = tonumber(ARGV[7])
if ARGV[8] ~= '' and redis.call('EXISTS', ARGV[8]) == 1 then return 0 end
-- At its quota a duplicate is still answered as one (a retry Telegram needs no 429 for); below it, SET NX decides.
if limit > 0 and ARGV[9] == '1' and tonumber(redis.call('GET', P .. 'pb:' .. bot) or '0') >= limit then
  if redis.call('EXISTS', dd) == 1 then return 0 end
  return -1
end
if not redis.call('SET', dd, '1', 'NX', 'EX', ARGV[6]) then return 0 end
local function push(lane)
  redis.call('INCR', P .. 'pending')
  redis.call('INCR', P .. 'pb:' .. lane)
  if redis.call('RPUSH', P .. 'mb:' .. lane .. ':' .. ck, ARGV[5]) == 1 then ready(lane, ck, false) end
end
local function skipped(destination, why)
  redis.call('XADD', P .. 'dlog:' .. destination, 'MAXLEN', '~', ARGV[12], '*', 'outcome', 'skipped',
    'msg', bot .. '-' .. ARGV[4], 'update_id', ARGV[4], 'attempt', '0', 'status', '', 'ms', '0', 'error', why,
    'entry', ARGV[5])
end
if ARGV[9] == '1' then push(bot) end
for i = 13, #ARGV do
  local target = ARGV[i]
  local kind = string.sub(target, 1, 1)
  if kind == 'L' then
    local destination = string.sub(target, 2)
    local lane = bot .. '/' .. destination
    if limit > 0 and tonumber(redis.call('GET', P .. 'pb:' .. lane) or '0') >= limit then
      skipped(destination, 'backlog full')
    else
      push(lane)
    end
  elseif kind == 'K' then
    skipped(string.sub(target, 2), 'destination disabled')
  else
    local colon = string.find(target, ':', 1, true)
    redis.call('XADD', P .. 'st:' .. string.sub(target, colon + 1), 'MAXLEN', '~', string.sub(target, 2, colon - 1), '*',
      'bot', bot, 'update_id', ARGV[4], 'kind', ARGV[11], 'update', ARGV[10])
  end
end
return 1
`;

/**
 * Hands up to ARGV[3] ready conversations to a worker, one per bot in turn (round robin over the rotation), each
 * with the head entry of its mailbox. ARGV: prefix, worker, n, then bot ids this worker must skip (at its per-bot
 * limit). Returns -1 when the worker's heartbeat is gone (it must start over under a new id), else a list of
 * {bot, ck, lease, stalls, head}.
 */
export const CLAIM = `${LIB}
local worker, n = ARGV[2], tonumber(ARGV[3])
if redis.call('EXISTS', P .. 'wk:' .. worker) == 0 then return -1 end
local skip = {}
local skips = 0
for i = 4, #ARGV do skip[ARGV[i]] = true; skips = skips + 1 end
local rot = P .. 'rot'
local out = {}
local tries = n + skips
while #out < n and tries > 0 do
  tries = tries - 1
  local bot = redis.call('LPOP', rot)
  if not bot then break end
  if skip[bot] or skip[owner(bot)] then
    redis.call('RPUSH', rot, bot)
  else
    local rdy = P .. 'rdy:' .. bot
    local ck = redis.call('LPOP', rdy)
    if redis.call('LLEN', rdy) > 0 then redis.call('RPUSH', rot, bot) end
    if ck then
      local conv = bot .. '\\n' .. ck
      local head = redis.call('LINDEX', P .. 'mb:' .. bot .. ':' .. ck, 0)
      if head then
        local lease = worker .. ':' .. redis.call('INCR', P .. 'epoch')
        redis.call('HSET', P .. 'lease', conv, lease)
        redis.call('SADD', P .. 'wl:' .. worker, conv)
        local stalls = tonumber(redis.call('HGET', P .. 'stall', conv) or '0')
        out[#out + 1] = {bot, ck, lease, stalls, head}
      end
    end
  end
end
-- Work left for other idle workers: pass the wake-up on.
if #out == n and redis.call('LLEN', rot) > 0 then wake() end
return out
`;

/**
 * The head update of a leased conversation is done (processed, or dead-lettered when ARGV[7] is a dead letter id).
 * ARGV: prefix, conv, lease, worker, the head entry's start (`headKey`: enough to tell it from any other), more (1: go on with the next update, 0: hand the
 * conversation back to the end of the ready list, -1: to its head), dead letter id, dead letter JSON, dead letter bot, failedAt
 * (four empty strings when not a dead letter), then the other parts of an album that ran with the head (their exact
 * entries), which are removed with it.
 * Returns {-1} when the lease was lost (another worker owns the conversation now: nothing changed), {0} when the
 * mailbox is empty (released), {1, next head} to go on with, {2} when handed back.
 */
export const ACK = `${LIB}
local conv, lease, worker, head, more = ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
if not owns(conv, lease) then return {-1} end
local bot, ck = split(conv)
local mb = P .. 'mb:' .. bot .. ':' .. ck
local first = redis.call('LINDEX', mb, 0)
if first and string.sub(first, 1, #head) == head then
  redis.call('LPOP', mb)
  redis.call('HDEL', P .. 'stall', conv)
  if redis.call('DECR', P .. 'pending') < 0 then redis.call('SET', P .. 'pending', 0) end
  local pb = P .. 'pb:' .. bot
  if redis.call('DECR', pb) <= 0 then redis.call('DEL', pb) end
  if ARGV[7] and ARGV[7] ~= '' then
    local at = tonumber(ARGV[10])
    redis.call('SET', P .. 'dl:' .. ARGV[7], ARGV[8])
    redis.call('ZADD', P .. 'dls', at, ARGV[7])
    redis.call('ZADD', P .. 'dlb:' .. ARGV[9], at, ARGV[7])
  end
  for i = 11, #ARGV do
    if redis.call('LREM', mb, 1, ARGV[i]) == 1 then
      if redis.call('DECR', P .. 'pending') < 0 then redis.call('SET', P .. 'pending', 0) end
      if redis.call('DECR', pb) <= 0 then redis.call('DEL', pb) end
    end
  end
end
if redis.call('LLEN', mb) == 0 then
  release(conv, worker)
  return {0}
end
if more > 0 and redis.call('EXISTS', P .. 'pause:' .. bot) == 0 then return {1, redis.call('LINDEX', mb, 0)} end
release(conv, worker)
ready(bot, ck, more < 0)
return {2}
`;

/**
 * The head update failed and will be tried again later. ARGV: prefix, conv, lease, worker, old head, new head (the
 * same update with its attempt recorded), mode, until (ms since epoch).
 * mode 'delay': the conversation waits in the delayed set until then, holding nothing.
 * mode 'pause': Telegram's flood wait for the whole bot: the bot leaves the rotation until then, and this
 *   conversation goes back to the head of its ready list.
 * mode 'disabled': the same while the bot is disabled or its token revoked; its pause key says 'disabled', which
 *   the outbound proxy ignores (a flood wait replaces it).
 * mode 'hold': a destination's lane pauses until ARGV[9] (ms), and this conversation waits in the delayed set until
 *   `until` (its next attempt on the retry schedule).
 * mode 'release': handed back at once to the head of its ready list (a worker shutting down).
 * Returns 1, or -1 when the lease was lost.
 */
export const DEFER = `${LIB}
local conv, lease, worker, old, new, mode, untilMs = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8])
if not owns(conv, lease) then return -1 end
local bot, ck = split(conv)
local mb = P .. 'mb:' .. bot .. ':' .. ck
if new ~= old and redis.call('LINDEX', mb, 0) == old then redis.call('LSET', mb, 0, new) end
release(conv, worker)
if redis.call('LLEN', mb) == 0 then return 1 end
if mode == 'delay' then
  redis.call('ZADD', P .. 'delayed', untilMs, conv)
elseif mode == 'hold' then
  -- A destination that asked to slow down (its breaker opened, or its Retry-After): the lane waits until ARGV[9],
  -- and this conversation until its own retry.
  local pauseUntil = tonumber(ARGV[9])
  local ttl = pauseUntil - now()
  if ttl < 1 then ttl = 1 end
  local key = P .. 'pause:' .. bot
  if redis.call('PTTL', key) < ttl then redis.call('SET', key, '1', 'PX', ttl) end
  redis.call('ZADD', P .. 'paused', 'GT', pauseUntil, bot)
  redis.call('LREM', P .. 'rot', 0, bot)
  redis.call('ZADD', P .. 'delayed', untilMs, conv)
elseif mode == 'pause' or mode == 'disabled' then
  local ttl = untilMs - now()
  if ttl < 1 then ttl = 1 end
  local key = P .. 'pause:' .. bot
  local value = mode == 'disabled' and 'disabled' or '1'
  if redis.call('PTTL', key) < ttl or (value == '1' and redis.call('GET', key) == 'disabled') then
    redis.call('SET', key, value, 'PX', ttl)
  end
  redis.call('ZADD', P .. 'paused', 'GT', untilMs, bot)
  redis.call('LREM', P .. 'rot', 0, bot)
  redis.call('LPUSH', P .. 'rdy:' .. bot, ck)
else
  ready(bot, ck, true)
end
return 1
`;

/**
 * Registers (ARGV[3] = 'new') or renews a worker's heartbeat. ARGV: prefix, worker, 'new' | 'renew', lock ms.
 * Returns 0 when a renewal finds the heartbeat gone: the worker was given up for dead and its conversations may
 * already run elsewhere.
 */
export const HEARTBEAT = `${LIB}
local worker, ms = ARGV[2], tonumber(ARGV[4])
local key = P .. 'wk:' .. worker
local ok
if ARGV[3] == 'new' then ok = redis.call('SET', key, '1', 'PX', ms, 'NX') else ok = redis.call('SET', key, '1', 'PX', ms, 'XX') end
if not ok then return 0 end
redis.call('ZADD', P .. 'wk', now() + ms, worker)
return 1
`;

/**
 * Hands back conversations a worker holds in Redis but not in memory (a claim whose reply was lost, a conversation
 * whose run failed unexpectedly): each goes back to the head of its bot's ready list. ARGV: prefix, worker, convs….
 */
export const RELEASE_ORPHANS = `${LIB}
local worker = ARGV[2]
local n = 0
for i = 3, #ARGV do
  if takeBack(ARGV[i], worker, false) then n = n + 1 else redis.call('SREM', P .. 'wl:' .. worker, ARGV[i]) end
end
return n
`;

/** A worker that stops cleanly. ARGV: prefix, worker. Its conversations must have been handed back already. */
export const UNREGISTER = `${LIB}
redis.call('DEL', P .. 'wk:' .. ARGV[2])
redis.call('ZREM', P .. 'wk', ARGV[2])
for _, conv in ipairs(redis.call('SMEMBERS', P .. 'wl:' .. ARGV[2])) do takeBack(conv, ARGV[2], false) end
redis.call('DEL', P .. 'wl:' .. ARGV[2])
return 1
`;

/**
 * Housekeeping, run by every worker on a timer (any number at once is harmless). ARGV: prefix, limit.
 * 1. Workers whose heartbeat expired: each conversation they held goes back to the head of its bot's ready list
 *    (its head update was interrupted, so it runs again before the conversation's later updates) and its stall
 *    count goes up.
 * 2. Delayed conversations that are due become ready; bots whose flood wait is over re-enter the rotation.
 * Returns {recovered conversations, promoted conversations, ms until the next delayed or paused item or -1}.
 */
export const HOUSEKEEP = `${LIB}
local limit = tonumber(ARGV[2])
local t = now()
local recovered, promoted = 0, 0
for _, worker in ipairs(redis.call('ZRANGEBYSCORE', P .. 'wk', '-inf', t, 'LIMIT', 0, 10)) do
  if redis.call('EXISTS', P .. 'wk:' .. worker) == 0 then
    for _, conv in ipairs(redis.call('SMEMBERS', P .. 'wl:' .. worker)) do
      if takeBack(conv, worker, true) then recovered = recovered + 1 end
    end
    redis.call('DEL', P .. 'wl:' .. worker)
    redis.call('ZREM', P .. 'wk', worker)
  end
end
for _, conv in ipairs(redis.call('ZRANGEBYSCORE', P .. 'delayed', '-inf', t, 'LIMIT', 0, limit)) do
  redis.call('ZREM', P .. 'delayed', conv)
  local bot, ck = split(conv)
  ready(bot, ck, false)
  promoted = promoted + 1
end
for _, bot in ipairs(redis.call('ZRANGEBYSCORE', P .. 'paused', '-inf', t, 'LIMIT', 0, limit)) do
  local left = redis.call('PTTL', P .. 'pause:' .. bot)
  if left > 0 then
    -- Not expired yet (Redis expires a key only after its last millisecond): look again then.
    redis.call('ZADD', P .. 'paused', t + left, bot)
  else
    redis.call('ZREM', P .. 'paused', bot)
    if redis.call('LLEN', P .. 'rdy:' .. bot) > 0 and not redis.call('LPOS', P .. 'rot', bot) then
      redis.call('RPUSH', P .. 'rot', bot)
      wake()
    end
  end
end
local nextAt = -1
for _, key in ipairs({'delayed', 'paused'}) do
  local first = redis.call('ZRANGE', P .. key, 0, 0, 'WITHSCORES')
  if first[2] then
    local d = tonumber(first[2]) - t
    if d < 0 then d = 0 end
    if nextAt < 0 or d < nextAt then nextAt = d end
  end
end
return {recovered, promoted, nextAt}
`;

/**
 * Puts a dead letter's update back at the end of its conversation and deletes the dead letter. ARGV: prefix, dead
 * letter id, bot, ck, entry[, lane (a destination's dead letter)]. Returns 1, or 0 when the dead letter is gone.
 */
export const REQUEUE_DEAD_LETTER = `${LIB}
local id, bot, ck = ARGV[2], ARGV[3], ARGV[4]
local lane = ARGV[6] or bot
if redis.call('DEL', P .. 'dl:' .. id) == 0 then return 0 end
redis.call('ZREM', P .. 'dls', id)
redis.call('ZREM', P .. 'dlb:' .. bot, id)
redis.call('INCR', P .. 'pending')
redis.call('INCR', P .. 'pb:' .. lane)
if redis.call('RPUSH', P .. 'mb:' .. lane .. ':' .. ck, ARGV[5]) == 1 then ready(lane, ck, false) end
return 1
`;

/**
 * Queues deliveries again (a replay), each at the end of its conversation in a destination's lane. ARGV: prefix,
 * lane, then pairs of (ck, entry). Returns how many.
 */
export const ENQUEUE_LANE = `${LIB}
local lane = ARGV[2]
local n = 0
for i = 3, #ARGV, 2 do
  redis.call('INCR', P .. 'pending')
  redis.call('INCR', P .. 'pb:' .. lane)
  if redis.call('RPUSH', P .. 'mb:' .. lane .. ':' .. ARGV[i], ARGV[i + 1]) == 1 then ready(lane, ARGV[i], false) end
  n = n + 1
end
return n
`;

/**
 * Ends a lane's pause at once (a destination enabled again, its breaker reset): back in the rotation when it has
 * ready conversations. ARGV: prefix, lane. Returns 1 when it re-entered the rotation.
 */
export const RESUME_LANE = `${LIB}
local lane = ARGV[2]
redis.call('DEL', P .. 'pause:' .. lane)
redis.call('ZREM', P .. 'paused', lane)
if redis.call('LLEN', P .. 'rdy:' .. lane) > 0 and not redis.call('LPOS', P .. 'rot', lane) then
  redis.call('RPUSH', P .. 'rot', lane)
  wake()
  return 1
end
return 0
`;

/** Deletes dead letters. ARGV: prefix, then pairs of (id, bot). Returns how many existed. */
export const DELETE_DEAD_LETTERS = `${LIB}
local n = 0
for i = 2, #ARGV, 2 do
  local id, bot = ARGV[i], ARGV[i + 1]
  n = n + redis.call('DEL', P .. 'dl:' .. id)
  redis.call('ZREM', P .. 'dls', id)
  redis.call('ZREM', P .. 'dlb:' .. bot, id)
end
return n
`;

/** Deletes a lock if it is still ours. KEYS[1] the lock; ARGV[1] our token. */
export const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Moves one job of a pre-1.0 partition queue (BullMQ) into its conversation's mailbox, in front of everything there
 * (it was accepted before any update of the mailbox layout). Run from the newest job to the oldest, so the oldest
 * ends first. ARGV: prefix, the partition's key prefix, list the job is in, job id, bot, ck, entry. Returns 1, or 0
 * when the job was no longer in that list.
 */
export const MIGRATE_LEGACY_JOB = `${LIB}
local qp, list, id, bot, ck = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if redis.call('LREM', qp .. list, 1, id) == 0 then return 0 end
local jk = qp .. id
redis.call('DEL', jk, jk .. ':logs', jk .. ':lock')
redis.call('INCR', P .. 'pending')
redis.call('INCR', P .. 'pb:' .. bot)
local mb = P .. 'mb:' .. bot .. ':' .. ck
-- A mailbox that was not empty is already ready (no worker runs conversations during the migration).
if redis.call('LPUSH', mb, ARGV[7]) == 1 then ready(bot, ck, false) end
return 1
`;

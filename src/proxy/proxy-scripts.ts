/**
 * Flood control of the outbound Bot API proxy, in the Redis layout of the conversation mailboxes
 * (src/updates/mailbox-scripts.ts; `P` is `<REDIS_PREFIX>:`). These scripts reuse its keys exactly, so that the
 * workers and the proxy share one flood wait per bot:
 *
 *   P:pause:<bot>   the bot's wait: a string with a PX TTL (the remaining wait); '1' for a flood wait, 'disabled'
 *                   while a worker found the bot disabled (not a flood wait: the proxy ignores it)
 *   P:paused        sorted set: bots by the end of their wait (ms since epoch); housekeeping puts a bot back in the
 *                   rotation once its wait is over and it has ready conversations
 *   P:rot           the rotation of bots whose conversations workers may claim: a bot in a flood wait is not in it
 *
 * Kept apart from mailbox-scripts.ts on purpose; a change of that layout must change these scripts too.
 */

/**
 * Telegram answered 429 with retry_after: the whole bot waits, as the DEFER script's 'pause' mode does for a
 * worker's call (a longer wait already set is kept), except that no conversation is handed back (the proxy holds
 * none). ARGV: prefix, bot, wait (ms). Returns the wait left (ms).
 */
export const PROXY_PAUSE = `
local P, bot, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
if ttl < 1 then ttl = 1 end
local key = P .. 'pause:' .. bot
local left = redis.call('PTTL', key)
if left < ttl or redis.call('GET', key) == 'disabled' then
  redis.call('SET', key, '1', 'PX', ttl)
  left = ttl
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', P .. 'paused', 'GT', now + left, bot)
redis.call('LREM', P .. 'rot', 0, bot)
return left
`;

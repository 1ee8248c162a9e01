/**
 * Lua for removing finished jobs the way the gateway needs: with every key BullMQ keeps per job, but never the job's
 * dedupe key, which must outlive the job so that Telegram's retries keep being recognised for DEDUPE_TTL_SECONDS
 * (BullMQ's `Queue.clean` and `Queue.remove` delete it too). `prefix` is the queue's key prefix
 * (`<REDIS_PREFIX>:<queue>:`).
 */
const DELETE_JOB = `
local function deleteJob(prefix, id)
  local key = prefix .. id
  redis.call('DEL', key, key .. ':logs', key .. ':dependencies', key .. ':processed', key .. ':failed',
    key .. ':unsuccessful')
end
`;

/**
 * KEYS[1] a finished set (completed or failed); ARGV[1] the queue's key prefix, ARGV[2] an age in ms, ARGV[3] a
 * batch size. Removes up to ARGV[3] jobs finished before (Redis time − ARGV[2]); returns how many.
 */
export const REMOVE_FINISHED_BEFORE = `${DELETE_JOB}
local now = redis.call('TIME')
local cutoff = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[2])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff, 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do deleteJob(ARGV[1], id) end
if #ids > 0 then redis.call('ZREM', KEYS[1], unpack(ids)) end
return #ids
`;

/**
 * KEYS[1] a failed set; ARGV[1] the queue's key prefix, ARGV[2…] job ids. Removes those of the jobs that are still in
 * the set (one retried or removed meanwhile is left alone); returns how many.
 */
export const REMOVE_FAILED_JOBS = `${DELETE_JOB}
local removed = 0
for i = 2, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    deleteJob(ARGV[1], ARGV[i])
    removed = removed + 1
  end
end
return removed
`;

import { luaScript } from './redis-client.js';

/*
 * The ordering chain, kept in three keys per queue (`<o>` is
 * `<prefix>:<queue name>:ord`):
 *   <o>:pending:<ordering key>  list of entries not yet handed to BullMQ,
 *                               oldest first
 *   <o>:head:<ordering key>     the entry BullMQ holds for that key now
 *   <o>:heads                   sorted set: ordering keys that have a
 *                               head, scored by when it was set (for the
 *                               reconciler)
 * An entry is the job's JSON and carries its BullMQ job id and `queuedAt`
 * (ms since the epoch; entries written before it existed lack it). At
 * most one entry per ordering key is in BullMQ at any time; the next one
 * moves in when the head is done. The scripts only decide; the caller adds the
 * entry they return to BullMQ (with the entry's job id, so adding twice
 * is harmless).
 */

/**
 * Appends an entry; when the key has no head it becomes the head at once
 * and is returned for the caller to add.
 * KEYS: pending, head, heads. ARGV: entry, ordering key member, now.
 */
export const enqueueScript = luaScript(`
redis.call('RPUSH', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then return false end
local entry = redis.call('LPOP', KEYS[1])
redis.call('SET', KEYS[2], entry)
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
return entry
`);

/**
 * The head with job id ARGV[1] is done: the next pending entry becomes the
 * head and is returned. If the head is already another entry (a redelivery
 * of a job that was advanced past), that head is returned instead, so the
 * caller makes sure it is in BullMQ.
 * KEYS: pending, head, heads. ARGV: job id, ordering key member, now.
 */
export const advanceScript = luaScript(`
local head = redis.call('GET', KEYS[2])
if not head then
  redis.call('ZREM', KEYS[3], ARGV[2])
  return false
end
if cjson.decode(head).jobId ~= ARGV[1] then return head end
local entry = redis.call('LPOP', KEYS[1])
if not entry then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[2])
  return false
end
redis.call('SET', KEYS[2], entry)
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
return entry
`);

// Inserts entry `entry` (queued at `at`) into list `list` before the first
// entry queued after it; one without `queuedAt` counts as older.
const insertInPlace = `
local function insertInPlace(list, entry, at)
  for _, other in ipairs(redis.call('LRANGE', list, 0, -1)) do
    local otherAt = cjson.decode(other).queuedAt
    if otherAt and otherAt > at then
      redis.call('LINSERT', list, 'BEFORE', other, entry)
      return
    end
  end
  redis.call('RPUSH', list, entry)
end
`;

/**
 * Enqueues an entry again in its place (by its `queuedAt`): an import
 * whose first job never reached the queue. With no head it becomes the
 * head, returned as `{'add', entry}`. When ARGV[5] is '1' and the head
 * was queued after it, the head is returned as `{'displace', head}` and
 * nothing is written but the head's score (which keeps the reconciler off
 * the key for its grace period): the caller takes the head back from
 * BullMQ if no worker has started it, then runs `swapHeadScript`.
 * Otherwise the entry goes into the pending list in its place.
 * KEYS: pending, head, heads. ARGV: entry, ordering key member, now,
 * queuedAt, displace.
 */
export const requeueScript = luaScript(`${insertInPlace}
local head = redis.call('GET', KEYS[2])
if not head then
  redis.call('SET', KEYS[2], ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
  return {'add', ARGV[1]}
end
local at = tonumber(ARGV[4])
local headAt = cjson.decode(head).queuedAt
if ARGV[5] == '1' and headAt and headAt > at then
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
  return {'displace', head}
end
insertInPlace(KEYS[1], ARGV[1], at)
return false
`);

/**
 * The head ARGV[1] was taken back from BullMQ: entry ARGV[2] becomes the
 * head, returned for the caller to add, and the old head goes back to the
 * front of the pending list, ahead of every entry enqueued after it. If
 * another head took its place meanwhile, the entry goes into the pending
 * list instead and that head is returned, so the caller makes sure it is
 * in BullMQ.
 * KEYS: pending, head, heads. ARGV: old head, entry, ordering key member,
 * now.
 */
export const swapHeadScript = luaScript(`${insertInPlace}
local head = redis.call('GET', KEYS[2])
if head and head ~= ARGV[1] then
  insertInPlace(KEYS[1], ARGV[2], cjson.decode(ARGV[2]).queuedAt)
  return head
end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
if head then redis.call('LPUSH', KEYS[1], head) end
return ARGV[2]
`);

/**
 * A key's chain as it is at one moment: `{head or '', pending...}`.
 * KEYS: pending, head.
 */
export const chainScript = luaScript(`
local chain = {redis.call('GET', KEYS[2]) or ''}
for _, entry in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  chain[#chain + 1] = entry
end
return chain
`);

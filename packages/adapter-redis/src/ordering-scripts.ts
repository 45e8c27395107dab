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
 * An entry is the job's JSON and carries its BullMQ job id. At most one
 * entry per ordering key is in BullMQ at any time; the next one moves in
 * when the head is done. The scripts only decide; the caller adds the
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

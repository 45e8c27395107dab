// The public API of @erp-import/adapter-redis: an explicit list.

export { createRedisAdapters, redisQueueFromEnv } from './redis-adapters.js';
export type {
  RedisAdapters,
  RedisAdaptersOptions,
  RedisQueueFromEnvOptions,
} from './redis-adapters.js';
export { createRedisQueue } from './redis-queue.js';
export type { RedisQueueOptions, RedisQueueSettings } from './redis-queue.js';
export { createRedisStatusStore } from './redis-status-store.js';
export type { RedisStatusStoreOptions } from './redis-status-store.js';
export { createRedisErrorLog } from './redis-error-log.js';
export type { RedisErrorLogOptions } from './redis-error-log.js';
export type {
  RedisClientLike,
  RedisCommandClient,
  RedisConnection,
} from './redis-client.js';

import { Redis } from 'ioredis';
import {
  ErrorCodes,
  ImportError,
  type ErrorLog,
  type ImportQueue,
  type Logger,
  type StatusStore,
} from '@erp-import/core';
import { createRedisErrorLog } from './redis-error-log.js';
import { createRedisQueue, type RedisQueueSettings } from './redis-queue.js';
import { createRedisStatusStore } from './redis-status-store.js';
import type { RedisClientLike, RedisConnection } from './redis-client.js';

export interface RedisAdaptersOptions {
  connection: RedisConnection;
  /** Prepended to every key; `erp-import` by default. */
  prefix?: string;
  logger?: Logger;
  queue?: RedisQueueSettings & { queueName?: string };
  /** Seconds an import's error entries are kept after its last append. */
  errorRetentionSeconds?: number;
}

export interface RedisAdapters {
  queue: ImportQueue;
  statusStore: StatusStore;
  errorLog: ErrorLog;
  /** Closes the three, and the connection when it was opened from a URL. */
  close(): Promise<void>;
}

/**
 * The queue, status store and error log on one Redis. The status store
 * and the error log share one connection; BullMQ opens its own. Answers
 * once Redis answers a PING, so a wrong URL fails here, not at the first
 * import.
 */
export async function createRedisAdapters(
  options: RedisAdaptersOptions,
): Promise<RedisAdapters> {
  const ownClient =
    'url' in options.connection && typeof options.connection.url === 'string'
      ? new Redis(options.connection.url, { lazyConnect: true })
      : undefined;
  const connection: RedisClientLike =
    ownClient ?? (options.connection as RedisClientLike);

  try {
    await connection.call('PING');
  } catch (error) {
    ownClient?.disconnect();
    throw new ImportError(ErrorCodes.QUEUE_ERROR, 'Redis does not answer', {
      cause: error,
    });
  }

  const shared = { connection, prefix: options.prefix };
  const queue = createRedisQueue({
    ...options.queue,
    ...shared,
    logger: options.logger,
  });
  const statusStore = createRedisStatusStore(shared);
  const errorLog = createRedisErrorLog({
    ...shared,
    errorRetentionSeconds: options.errorRetentionSeconds,
  });

  return {
    queue,
    statusStore,
    errorLog,
    async close() {
      await queue.close();
      if (ownClient) await ownClient.quit().catch(() => ownClient.disconnect());
    },
  };
}

export interface RedisQueueFromEnvOptions {
  /** `process.env` by default. */
  env?: Record<string, string | undefined>;
  logger?: Logger;
  prefix?: string;
  queue?: RedisQueueSettings & { queueName?: string };
}

/**
 * The Redis queue when `ERP_IMPORT_QUEUE=redis`, on `REDIS_URL`, under
 * `options.prefix`, else `ERP_IMPORT_REDIS_PREFIX`, else the default
 * `erp-import`; undefined otherwise, so a host falls back to its default
 * queue:
 * `const queue = redisQueueFromEnv({ logger }) ?? defaultQueue()`.
 */
export function redisQueueFromEnv(
  options: RedisQueueFromEnvOptions = {},
): ImportQueue | undefined {
  const env = options.env ?? process.env;
  const choice = env.ERP_IMPORT_QUEUE?.trim().toLowerCase();
  if (choice !== 'redis') return undefined;

  const url = env.REDIS_URL?.trim();
  if (!url) {
    throw new ImportError(
      ErrorCodes.INVALID_REQUEST,
      'ERP_IMPORT_QUEUE=redis needs REDIS_URL (redis://host:6379)',
    );
  }
  // Deployments that share one Redis need prefixes of their own, or each
  // one's workers take the other's jobs.
  const prefix =
    options.prefix ?? (env.ERP_IMPORT_REDIS_PREFIX?.trim() || undefined);
  return createRedisQueue({
    ...options.queue,
    connection: { url },
    prefix,
    logger: options.logger,
  });
}

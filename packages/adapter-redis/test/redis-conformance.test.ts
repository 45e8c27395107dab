import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import {
  describeErrorLogConformance,
  describeQueueConformance,
  describeStatusStoreConformance,
} from '@erp-import/core/testing';
import {
  createRedisErrorLog,
  createRedisQueue,
  createRedisStatusStore,
} from '../src/index.js';
import {
  deleteKeys,
  describeWithRedis,
  uniquePrefix,
} from './redis-test-support.js';

const prefix = uniquePrefix('conformance');

describeWithRedis('Redis adapters', (redisUrl) => {
  // The stores share one client the test owns, as a host would pass it.
  let client: Redis;
  beforeAll(() => {
    client = new Redis(redisUrl());
  });
  afterAll(async () => {
    await deleteKeys(redisUrl(), prefix);
    await client.quit();
  });

  describeStatusStoreConformance('Redis', async () => ({
    store: createRedisStatusStore({ connection: client, prefix }),
    cleanup: async () => undefined,
  }));

  describeErrorLogConformance('Redis', async () => ({
    errorLog: createRedisErrorLog({ connection: client, prefix }),
    cleanup: async () => undefined,
  }));

  // A queue per test, on its own prefix, so no test sees another's jobs.
  let queues = 0;
  describeQueueConformance(
    'Redis (BullMQ)',
    async () => {
      queues += 1;
      const queuePrefix = `${prefix}:q${queues}`;
      const queue = createRedisQueue({
        connection: { url: redisUrl() },
        prefix: queuePrefix,
        lockDurationMs: 5_000,
        stalledIntervalMs: 2_000,
        retryDelayMs: 200,
      });
      return {
        queue,
        cleanup: async () => {
          await queue.close();
          await deleteKeys(redisUrl(), queuePrefix);
        },
      };
    },
    { timeoutMs: 20_000 },
  );
});

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sampleImportRecord } from '@erp-import/core/testing';
import {
  createRedisAdapters,
  createRedisErrorLog,
  createRedisStatusStore,
  redisQueueFromEnv,
} from '../src/index.js';
import {
  deleteKeys,
  describeWithRedis,
  keysUnder,
  uniquePrefix,
} from './redis-test-support.js';

const prefix = uniquePrefix('stores');

describeWithRedis('Redis status store and error log specifics', (redisUrl) => {
  let client: Redis;
  beforeAll(() => {
    client = new Redis(redisUrl());
  });
  afterAll(async () => {
    await deleteKeys(redisUrl(), prefix);
    await client.quit();
  });

  const issue = { severity: 'error' as const, position: { recordNumber: 1 } };

  it("expires an import's error entries after the retention, when set", async () => {
    const kept = createRedisErrorLog({ connection: client, prefix });
    const expiring = createRedisErrorLog({
      connection: client,
      prefix,
      errorRetentionSeconds: 3600,
    });
    const keptId = randomUUID();
    const expiringId = randomUUID();
    const entry = { ...issue, code: 'invalid_integer', message: 'x' };
    await kept.append(keptId, [entry]);
    await expiring.append(expiringId, [entry]);

    const ttls = async (importId: string) =>
      Promise.all(
        ['error', 'seq'].map((part) =>
          client.ttl(`${prefix}:errors:${importId}:${part}`),
        ),
      );
    expect(await ttls(keptId)).toEqual([-1, -1]);
    for (const ttl of await ttls(expiringId)) {
      expect(ttl).toBeGreaterThan(3500);
      expect(ttl).toBeLessThanOrEqual(3600);
    }
  });

  it('ignores a progress write that comes after the import finished', async () => {
    const store = createRedisStatusStore({ connection: client, prefix });
    const record = sampleImportRecord({ tenant: `t-${randomUUID()}` });
    await store.create(record);
    await store.transition(record.id, ['queued'], { state: 'processing' });
    const final = {
      ...record.progress,
      phase: 'done' as const,
      recordsRead: 9,
    };
    await store.transition(record.id, ['processing'], {
      state: 'completed',
      progress: final,
    });

    await store.updateProgress(record.id, {
      ...record.progress,
      phase: 'reading',
      recordsRead: 5,
    });
    expect((await store.getById(record.id))?.progress).toEqual(final);
  });

  it('refuses a cursor it did not make', async () => {
    const store = createRedisStatusStore({ connection: client, prefix });
    await expect(
      store.list({ tenant: 'acme', limit: 5, cursor: 'not-ours' }),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('keeps tenants and idempotency keys with colons apart', async () => {
    const store = createRedisStatusStore({ connection: client, prefix });
    const a = sampleImportRecord({ tenant: 'a:b', idempotencyKey: 'c' });
    const b = sampleImportRecord({ tenant: 'a', idempotencyKey: 'b:c' });
    expect((await store.create(a)).created).toBe(true);
    expect((await store.create(b)).created).toBe(true);
  });

  it('leaves a client the host passed open when the adapters close', async () => {
    const adapters = await createRedisAdapters({ connection: client, prefix });
    await adapters.close();
    expect(await client.ping()).toBe('PONG');
  });

  it('selects the Redis queue only when ERP_IMPORT_QUEUE=redis', async () => {
    expect(redisQueueFromEnv({ env: {} })).toBeUndefined();
    expect(() =>
      redisQueueFromEnv({ env: { ERP_IMPORT_QUEUE: 'redis' } }),
    ).toThrow(/REDIS_URL/);
    const queue = redisQueueFromEnv({
      env: { ERP_IMPORT_QUEUE: 'redis', REDIS_URL: redisUrl() },
      prefix,
    });
    expect(queue?.capabilities.ordered).toBe(true);
    await queue?.close();
  });

  it('takes its key prefix from ERP_IMPORT_REDIS_PREFIX', async () => {
    const own = `${prefix}:env`;
    const queue = redisQueueFromEnv({
      env: {
        ERP_IMPORT_QUEUE: 'redis',
        REDIS_URL: redisUrl(),
        ERP_IMPORT_REDIS_PREFIX: own,
      },
    });
    try {
      await queue!.enqueue({
        importId: randomUUID(),
        tenant: 't',
        entity: 'e',
        orderingKey: 't/e',
      });
      expect((await keysUnder(redisUrl(), own)).length).toBeGreaterThan(0);
    } finally {
      await queue?.close();
    }
  });
});

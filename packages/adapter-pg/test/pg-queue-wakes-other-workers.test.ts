import { randomUUID } from 'node:crypto';
import { createTestPool } from '@erp-import/dev-services/engine-harness';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { createLatch } from '@erp-import/core/testing';
import type { ImportJob, QueueConsumer } from '@erp-import/core';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPgQueue, type PgQueue } from '../src/index.js';

// A job queued by one process reaches an idle worker of another at once,
// through LISTEN/NOTIFY, not at the worker's next poll; so does the next
// job of an ordering key when the one before it settles. The queues here
// poll every 30 s, so only a notification can explain a quick start.

const database = useTestDatabase('pg_queue_wakes');
const pollIntervalSeconds = 30;
let pools: pg.Pool[];
let queues: PgQueue[];
const consumers: QueueConsumer[] = [];

beforeAll(async () => {
  // Two pools, two queues: nothing is shared but the database.
  pools = [createTestPool(database.url, 4), createTestPool(database.url, 4)];
  queues = await Promise.all(
    pools.map((pool) => createPgQueue({ pool, pollIntervalSeconds })),
  );
});

afterAll(async () => {
  await Promise.all(consumers.map((consumer) => consumer.stop()));
  await Promise.all(queues.map((queue) => queue.close()));
  await Promise.all(pools.map((pool) => pool.end()));
});

function job(orderingKey: string): ImportJob {
  return {
    importId: randomUUID(),
    tenant: 'acme',
    entity: 'items',
    orderingKey,
  };
}

it('starts a job queued elsewhere, and the next of its key, at once', async () => {
  const [sender, worker] = queues as [PgQueue, PgQueue];
  const started: Array<{ importId: string; at: number }> = [];
  const release = createLatch();
  consumers.push(
    await worker.consume(
      async (current) => {
        started.push({ importId: current.importId, at: performance.now() });
        if (started.length === 1) await release.promise;
      },
      { concurrency: 2 },
    ),
  );
  // Let the worker's first poll find nothing, so that it is idle.
  await new Promise((resolve) => setTimeout(resolve, 500));

  const first = job('acme/items');
  const second = job('acme/items');
  const queuedAt = performance.now();
  await sender.enqueue(first);
  await sender.enqueue(second);
  await expect.poll(() => started.length, { timeout: 5000 }).toBe(1);
  expect(started[0]!.importId).toBe(first.importId);
  expect(started[0]!.at - queuedAt).toBeLessThan(5000);

  // The second waits for the first (same key); once it settles, the
  // notification of the settle starts the second.
  const settledAt = performance.now();
  release.open();
  await expect.poll(() => started.length, { timeout: 5000 }).toBe(2);
  expect(started[1]!.importId).toBe(second.importId);
  expect(started[1]!.at - settledAt).toBeLessThan(5000);
});

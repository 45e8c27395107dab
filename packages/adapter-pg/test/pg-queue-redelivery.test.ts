import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  startChild,
  type ChildWorker,
} from '@erp-import/dev-services/child-processes';
import { createTestPool } from '@erp-import/dev-services/engine-harness';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { createLatch, waitFor } from '@erp-import/core/testing';
import type { ImportJob, QueueConsumer } from '@erp-import/core';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPgQueue, type PgQueue } from '../src/index.js';

const database = useTestDatabase('adapter_pg_redelivery');
const workerScript = fileURLToPath(
  new URL('./fixtures/queue-worker-process.ts', import.meta.url),
);

let pool: pg.Pool;
const open: {
  queues: PgQueue[];
  consumers: QueueConsumer[];
  children: ChildWorker[];
} = { queues: [], consumers: [], children: [] };

beforeAll(async () => {
  pool = createTestPool(database.url, 10);
});

afterEach(async () => {
  await Promise.all(open.children.map((child) => child.kill()));
  await Promise.all(open.consumers.map((consumer) => consumer.stop()));
  await Promise.all(open.queues.map((queue) => queue.close()));
  open.children = [];
  open.consumers = [];
  open.queues = [];
});

afterAll(async () => {
  await pool.end();
});

async function newQueue(redeliveryAfterSeconds: number): Promise<PgQueue> {
  const queue = await createPgQueue({
    pool,
    redeliveryAfterSeconds,
    pollIntervalSeconds: 0.5,
  });
  open.queues.push(queue);
  return queue;
}

function newJob(tenant = `tenant-${randomUUID().slice(0, 8)}`): ImportJob {
  return {
    importId: randomUUID(),
    tenant,
    entity: 'items',
    orderingKey: `${tenant}/items`,
  };
}

async function jobState(importId: string): Promise<string | undefined> {
  const { rows } = await pool.query(
    `SELECT state FROM erp_import_queue.job WHERE data->>'importId' = $1`,
    [importId],
  );
  return (rows[0] as { state: string } | undefined)?.state;
}

describe('the PostgreSQL queue when workers die or run long', () => {
  it('hands the job of a SIGKILLed worker to another within redeliveryAfterMs', async () => {
    const queue = await newQueue(4);
    const child = startChild(workerScript, {
      DATABASE_URL: database.url,
      REDELIVERY_AFTER_SECONDS: '4',
    });
    open.children.push(child);
    await waitFor(() => child.lines.includes('ready'), {
      timeoutMs: 30_000,
      description: `the child worker to start (${child.stderr()})`,
    });

    const job = newJob();
    await queue.enqueue(job);
    await waitFor(() => child.lines.includes(`taken ${job.importId} 1`), {
      timeoutMs: 15_000,
      description: 'the child to take the job',
    });
    await child.kill();

    const attempts: number[] = [];
    open.consumers.push(
      await queue.consume(
        async (delivered, context) => {
          if (delivered.importId === job.importId)
            attempts.push(context.attempt);
        },
        { concurrency: 1 },
      ),
    );

    // The bound the queue states is the test's deadline.
    await waitFor(() => attempts.length > 0, {
      timeoutMs: queue.capabilities.redeliveryAfterMs ?? 0,
      description: 'the redelivery',
    });
    expect(attempts).toEqual([2]);
    await waitFor(async () => (await jobState(job.importId)) === 'completed', {
      description: 'the job to complete',
    });
  }, 60_000);

  it('keeps a job that runs past its expiry with one worker, by heartbeat', async () => {
    const queue = await newQueue(2);
    const job = newJob();
    let deliveries = 0;
    const handler = async (delivered: ImportJob) => {
      if (delivered.importId !== job.importId) return;
      deliveries += 1;
      // Three expiry periods, with pg-boss's maintenance every second.
      await new Promise((resolve) => setTimeout(resolve, 6_000));
    };
    open.consumers.push(await queue.consume(handler, { concurrency: 2 }));
    const other = await newQueue(2);
    open.consumers.push(await other.consume(handler, { concurrency: 2 }));

    await queue.enqueue(job);
    await waitFor(async () => (await jobState(job.importId)) === 'completed', {
      timeoutMs: 20_000,
      description: 'the job to complete',
    });
    expect(deliveries).toBe(1);
  }, 40_000);

  it('aborts the signal of a job taken back, and leaves it to its new holder', async () => {
    const queue = await newQueue(2);
    const job = newJob();
    let signal: AbortSignal | undefined;
    const finished = createLatch();
    open.consumers.push(
      await queue.consume(
        async (delivered, context) => {
          if (delivered.importId !== job.importId) return;
          signal = context.signal;
          await new Promise((resolve) =>
            context.signal.addEventListener('abort', resolve),
          );
          finished.open();
        },
        { concurrency: 1 },
      ),
    );

    await queue.enqueue(job);
    await waitFor(() => signal, { description: 'the delivery' });
    // What another worker's fetch after an expiry does to the job: a new
    // started_on, so the first worker's lease is gone.
    await pool.query(
      `UPDATE erp_import_queue.job
       SET started_on = started_on + interval '1 second'
       WHERE data->>'importId' = $1`,
      [job.importId],
    );
    await finished.promise;

    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toMatchObject({ code: 'WORKER_LOST' });
    // Let the first worker try to settle; the job must stay with its holder.
    await open.consumers.pop()?.stop();
    expect(await jobState(job.importId)).toBe('active');
  }, 30_000);

  it('does not hold up other keys behind a key whose job is running', async () => {
    const queue = await newQueue(5);
    const busy = newJob();
    const sameKey = newJob(busy.tenant);
    const otherKey = newJob();
    const started: string[] = [];
    const latch = createLatch();
    open.consumers.push(
      await queue.consume(
        async (delivered) => {
          started.push(delivered.importId);
          if (delivered.importId === busy.importId) await latch.promise;
        },
        { concurrency: 2 },
      ),
    );

    try {
      await queue.enqueue(busy);
      await waitFor(() => started.includes(busy.importId), {
        description: 'the first job',
      });
      await queue.enqueue(sameKey);
      await queue.enqueue(otherKey);
      await waitFor(() => started.includes(otherKey.importId), {
        description: 'the other key to start while the first runs',
      });
      expect(started).not.toContain(sameKey.importId);
    } finally {
      latch.open();
    }
    await waitFor(() => started.includes(sameKey.importId), {
      description: 'the same key to follow',
    });
  }, 30_000);
});

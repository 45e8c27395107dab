import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { afterEach, expect, it } from 'vitest';
import type { ImportJob, ImportQueue, QueueConsumer } from '@erp-import/core';
import { waitFor } from '@erp-import/core/testing';
import { createRedisQueue } from '../src/index.js';
import { enqueueScript } from '../src/ordering-scripts.js';
import { runScript } from '../src/redis-client.js';
import {
  deleteKeys,
  describeWithRedis,
  uniquePrefix,
} from './redis-test-support.js';

const prefix = uniquePrefix('chain-repair');
const base = `${prefix}:imports:ord`;

const newJob = (orderingKey: string): ImportJob => ({
  importId: randomUUID(),
  tenant: 'tenant-a',
  entity: 'items',
  orderingKey,
});

/**
 * Runs only the first step of an enqueue, as an enqueuer that dies before
 * it adds the head to BullMQ leaves things.
 */
async function enqueueWithoutAdding(
  redis: Redis,
  job: ImportJob,
): Promise<void> {
  const key = encodeURIComponent(job.orderingKey);
  const entry = { ...job, jobId: `${job.importId}.${randomUUID()}` };
  await runScript(
    redis,
    enqueueScript,
    [`${base}:pending:${key}`, `${base}:head:${key}`, `${base}:heads`],
    // Dated back past the reconciler's grace period.
    [JSON.stringify(entry), job.orderingKey, Date.now() - 60_000],
  );
}

describeWithRedis('Redis queue: repairing the ordering chain', (redisUrl) => {
  let redis: Redis;
  let queue: ImportQueue | undefined;
  let consumer: QueueConsumer | undefined;

  afterEach(async () => {
    await consumer?.stop();
    await queue?.close();
    await redis?.quit();
    await deleteKeys(redisUrl(), prefix);
  });

  const openQueue = () =>
    createRedisQueue({
      connection: { url: redisUrl() },
      prefix,
      lockDurationMs: 2_000,
      stalledIntervalMs: 1_000,
      reconcileIntervalMs: 300,
    });

  it('adds a head whose enqueuer died before adding it, then the rest in order', async () => {
    redis = new Redis(redisUrl());
    queue = openQueue();
    const orderingKey = `tenant-a/${randomUUID()}`;
    const lost = newJob(orderingKey);
    await enqueueWithoutAdding(redis, lost);
    const after = newJob(orderingKey);
    await queue.enqueue(after);

    const delivered: string[] = [];
    consumer = await queue.consume(
      async (job) => {
        delivered.push(job.importId);
      },
      { concurrency: 2 },
    );

    await waitFor(() => delivered.length === 2, {
      timeoutMs: 30_000,
      description: 'the lost head and the job behind it',
    });
    expect(delivered).toEqual([lost.importId, after.importId]);
  }, 60_000);

  it('hands the key on past a head BullMQ failed without our worker', async () => {
    redis = new Redis(redisUrl());
    queue = openQueue();
    const orderingKey = `tenant-a/${randomUUID()}`;
    const failed = newJob(orderingKey);
    const after = newJob(orderingKey);
    await queue.enqueue(failed);
    await queue.enqueue(after);

    // A bare BullMQ worker takes the head and fails it for good, as
    // BullMQ does with a job that stalled too often: nothing of the
    // adapter runs, so nothing hands the key on.
    const bare = new Worker(`imports`, null, {
      connection: redisOptions(redisUrl()),
      prefix,
    });
    const token = randomUUID();
    const job = await bare.getNextJob(token);
    expect(job?.data.importId).toBe(failed.importId);
    await job?.moveToFailed(
      new UnrecoverableError('job stalled more than allowable limit'),
      token,
    );
    await bare.close();

    const delivered: string[] = [];
    consumer = await queue.consume(
      async (taken) => {
        delivered.push(taken.importId);
      },
      { concurrency: 1 },
    );
    await waitFor(() => delivered.includes(after.importId), {
      timeoutMs: 30_000,
      description: 'the job behind the failed head',
    });
    expect(delivered).toEqual([after.importId]);

    const bullQueue = new Queue('imports', {
      connection: redisOptions(redisUrl()),
      prefix,
    });
    try {
      expect(await bullQueue.getFailedCount()).toBe(1);
    } finally {
      await bullQueue.close();
    }
  }, 60_000);
});

function redisOptions(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 6379) };
}

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import {
  isImportError,
  type ImportJob,
  type ImportQueue,
  type QueueConsumer,
} from '@erp-import/core';
import { waitFor } from '@erp-import/core/testing';
import { createRedisQueue } from '../src/index.js';
import {
  deleteKeys,
  describeWithRedis,
  uniquePrefix,
} from './redis-test-support.js';

const prefix = uniquePrefix('lost-lock');
const lockDurationMs = 2_000;

const newJob = (orderingKey: string): ImportJob => ({
  importId: randomUUID(),
  tenant: 'tenant-a',
  entity: 'items',
  orderingKey,
});

/** Keeps the CPU busy for `ms` without yielding, as a parser chunk does. */
function burn(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // Busy on purpose.
  }
}

describeWithRedis('Redis queue: the job lock', (redisUrl) => {
  let queue: ImportQueue | undefined;
  let consumer: QueueConsumer | undefined;

  afterEach(async () => {
    await consumer?.stop();
    await queue?.close();
    await deleteKeys(redisUrl(), prefix);
  });

  const openQueue = () =>
    createRedisQueue({
      connection: { url: redisUrl() },
      prefix,
      lockDurationMs,
      stalledIntervalMs: 1_000,
    });

  it('holds through a CPU-bound job longer than the lock, and runs it once', async () => {
    queue = openQueue();
    const orderingKey = `tenant-a/cpu-${randomUUID()}`;
    const job = newJob(orderingKey);
    const runs: { attempt: number; aborted: boolean }[] = [];

    consumer = await queue.consume(
      async (_job, context) => {
        const run = { attempt: context.attempt, aborted: false };
        runs.push(run);
        // Three lock durations of work, in 100 ms slices between which
        // the event loop turns, like a parser between stream chunks.
        const until = Date.now() + lockDurationMs * 3;
        while (Date.now() < until) {
          burn(100);
          await new Promise((resolve) => setImmediate(resolve));
        }
        run.aborted = context.signal.aborted;
      },
      { concurrency: 1 },
    );
    await queue.enqueue(job);
    const next = newJob(orderingKey);
    await queue.enqueue(next);

    await waitFor(() => runs.length === 2, {
      timeoutMs: 30_000,
      description: 'the job and the one after it',
    });
    expect(runs).toEqual([
      { attempt: 1, aborted: false },
      { attempt: 1, aborted: false },
    ]);
  }, 60_000);

  it('aborts a job whose lock was lost, and does not hand its key on', async () => {
    queue = openQueue();
    const orderingKey = `tenant-a/lost-${randomUUID()}`;
    const first = newJob(orderingKey);
    const second = newJob(orderingKey);
    const events: string[] = [];
    let abortReason: unknown;

    consumer = await queue.consume(
      async (job, context) => {
        const name = job.importId === first.importId ? 'first' : 'second';
        events.push(`start ${name} ${context.attempt}`);
        if (name === 'first' && context.attempt === 1) {
          // Held until the queue takes the job back.
          await new Promise<void>((resolve) =>
            context.signal.addEventListener('abort', () => resolve()),
          );
          abortReason = context.signal.reason;
          events.push('aborted first');
          throw abortReason;
        }
        events.push(`end ${name}`);
      },
      { concurrency: 2 },
    );
    await queue.enqueue(first);
    await queue.enqueue(second);
    await waitFor(() => events.includes('start first 1'), {
      description: 'the first job',
    });

    // What a loop blocked past the lock duration ends in: the lock is
    // gone when the worker next tries to renew it.
    const redis = new Redis(redisUrl());
    try {
      const lockKeys = await redis.keys(
        `${prefix}:imports:${first.importId}.*:lock`,
      );
      expect(lockKeys).toHaveLength(1);
      await redis.del(...lockKeys);
    } finally {
      await redis.quit();
    }

    await waitFor(() => events.includes('end second'), {
      timeoutMs: 30_000,
      description: 'both jobs to finish',
    });
    expect(events).toEqual([
      'start first 1',
      'aborted first',
      'start first 2',
      'end first',
      'start second 1',
      'end second',
    ]);
    expect(isImportError(abortReason) && abortReason.code).toBe('WORKER_LOST');
  }, 60_000);
});

import { describe, expect, it } from 'vitest';
import {
  createMemoryErrorLog,
  createMemoryQueue,
  createMemoryStatusStore,
} from '../src/index.js';
import type { ImportJob } from '../src/index.js';
import { createLatch, sampleImportRecord, waitFor } from '../src/testing.js';

const job = (importId: string, orderingKey = 'tenant-a/items'): ImportJob => ({
  importId,
  tenant: 'tenant-a',
  entity: 'items',
  orderingKey,
});

describe('memory queue', () => {
  it('says what it can do', () => {
    expect(createMemoryQueue({ maxAttempts: 5 }).capabilities).toEqual({
      durable: false,
      ordered: true,
      redeliveryAfterMs: null,
      maxAttempts: 5,
    });
  });

  it('gives a job up after maxAttempts deliveries', async () => {
    const queue = createMemoryQueue({ maxAttempts: 3, retryDelayMs: 1 });
    const attempts: number[] = [];
    const done: string[] = [];
    const consumer = await queue.consume(
      async (delivered, context) => {
        if (delivered.importId === 'after') {
          done.push('after');
          return;
        }
        attempts.push(context.attempt);
        throw new Error('always fails');
      },
      { concurrency: 1 },
    );

    await queue.enqueue(job('failing'));
    await queue.enqueue(job('after'));
    await waitFor(() => done.length === 1, { description: 'the next job' });

    expect(attempts).toEqual([1, 2, 3]);
    await consumer.stop();
    await queue.close();
  });

  it('keeps the key while a failed job waits to retry', async () => {
    const queue = createMemoryQueue({ maxAttempts: 2, retryDelayMs: 20 });
    const order: string[] = [];
    let failedOnce = false;
    const consumer = await queue.consume(
      async (delivered) => {
        order.push(delivered.importId);
        if (delivered.importId === 'first' && !failedOnce) {
          failedOnce = true;
          throw new Error('fails once');
        }
      },
      { concurrency: 4 },
    );

    await queue.enqueue(job('first'));
    await queue.enqueue(job('second'));
    await waitFor(() => order.length === 3, {
      description: 'three deliveries',
    });

    expect(order).toEqual(['first', 'first', 'second']);
    await consumer.stop();
    await queue.close();
  });

  it('aborts running handlers on close', async () => {
    const queue = createMemoryQueue();
    const latch = createLatch();
    let aborted = false;
    let started = false;
    await queue.consume(
      async (_job, context) => {
        started = true;
        context.signal.addEventListener('abort', () => {
          aborted = true;
          latch.open();
        });
        await latch.promise;
      },
      { concurrency: 1 },
    );

    await queue.enqueue(job('held'));
    await waitFor(() => started, { description: 'the handler' });
    await queue.close();
    expect(aborted).toBe(true);
    await expect(queue.enqueue(job('late'))).rejects.toThrow(/closed/);
  });
});

describe('memory status store', () => {
  it('hands out copies that callers cannot change it through', async () => {
    const store = createMemoryStatusStore();
    const record = sampleImportRecord();
    const { record: created } = await store.create(record);

    created.state = 'failed';
    record.counts.read = 99;
    const stored = await store.getById(record.id);
    expect(stored?.state).toBe('queued');
    expect(stored?.counts.read).toBe(0);
  });

  it('refuses a cursor it did not make', async () => {
    const store = createMemoryStatusStore();
    await expect(
      store.list({ tenant: 'tenant-a', limit: 10, cursor: 'not-a-cursor' }),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });
});

describe('memory error log', () => {
  it('refuses an entry without a record number', async () => {
    const errorLog = createMemoryErrorLog();
    await expect(
      errorLog.append('import-1', [
        { severity: 'error', code: 'x', message: 'y' } as never,
      ]),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });
});

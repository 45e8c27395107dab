// p-queue is ESM-only. The CommonJS build of core loads it with a plain
// `require`, which Node 20.19 and later resolve for ESM packages (hence
// core's `engines`). There the bundler's interop wraps the module
// namespace once more, so the class is found by unwrapping `default`.
import * as pQueueModule from 'p-queue';
import type PQueueClass from 'p-queue';
import { ErrorCodes, ImportError } from '../../errors/import-error.js';
import type {
  ConsumeOptions,
  EnqueueOptions,
  ImportJob,
  ImportQueue,
  JobHandler,
  QueueCapabilities,
  QueueConsumer,
} from '../../ports/queue.js';

export interface MemoryQueueOptions {
  /** Deliveries of one job, the first included; 3 by default. */
  maxAttempts?: number;
  /** How long a job whose handler threw waits before its next attempt. */
  retryDelayMs?: number;
}

const PQueue = unwrapDefault(pQueueModule) as typeof PQueueClass;
type PQueue = PQueueClass;

function unwrapDefault(module: unknown): unknown {
  let value = module;
  while (typeof value === 'object' && value !== null && 'default' in value) {
    value = value.default;
  }
  return value;
}

interface PendingJob {
  job: ImportJob;
  /** Deliveries so far. */
  attempts: number;
  /** Its place in its key's line: ms since the epoch, then enqueue order. */
  queuedAt: number;
  seq: number;
}

interface Consumer {
  handler: JobHandler;
  runner: PQueue;
  concurrency: number;
  running: number;
  stopped: boolean;
  controllers: Set<AbortController>;
}

/**
 * A queue in the process's memory, for tests, development and single
 * process hosts. Jobs do not survive the process (`durable: false`); a
 * host that needs them to should use a PostgreSQL or Redis queue.
 *
 * States of a job: pending (in `pending`, in enqueue order), running (its
 * ordering key is in `busyKeys`), waiting to retry (still holding its key,
 * so later jobs of that key cannot overtake it), done. A key is held from
 * the moment its job is handed out until the job is done or back in
 * `pending`, which is what keeps one key's jobs one at a time and in order.
 * `held` counts the jobs of each import from enqueue until done.
 */
export function createMemoryQueue(
  options: MemoryQueueOptions = {},
): ImportQueue {
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const retryDelayMs = Math.max(0, options.retryDelayMs ?? 50);
  const capabilities: QueueCapabilities = {
    durable: false,
    ordered: true,
    redeliveryAfterMs: null,
    maxAttempts,
  };

  const pending: PendingJob[] = [];
  const busyKeys = new Set<string>();
  const held = new Map<string, number>();
  // Never moves back, so jobs enqueued in turn stay in turn by `queuedAt`.
  let lastQueuedAt = 0;
  let lastSeq = 0;
  const consumers = new Set<Consumer>();
  const retryTimers = new Set<NodeJS.Timeout>();
  let closed = false;

  // Hands the oldest pending job of each free key to a consumer with room.
  function dispatch(): void {
    for (const consumer of consumers) {
      if (consumer.stopped) continue;
      let index = 0;
      while (
        consumer.running < consumer.concurrency &&
        index < pending.length
      ) {
        const entry = pending[index];
        if (!entry || busyKeys.has(entry.job.orderingKey)) {
          index += 1;
          continue;
        }
        pending.splice(index, 1);
        start(consumer, entry);
      }
    }
  }

  function start(consumer: Consumer, entry: PendingJob): void {
    busyKeys.add(entry.job.orderingKey);
    consumer.running += 1;
    entry.attempts += 1;
    const controller = new AbortController();
    consumer.controllers.add(controller);

    void consumer.runner
      .add(() =>
        consumer.handler(
          { ...entry.job },
          { attempt: entry.attempts, signal: controller.signal },
        ),
      )
      .then(
        () => settle(consumer, controller, entry, true),
        () => settle(consumer, controller, entry, false),
      );
  }

  function settle(
    consumer: Consumer,
    controller: AbortController,
    entry: PendingJob,
    succeeded: boolean,
  ): void {
    consumer.running -= 1;
    consumer.controllers.delete(controller);

    if (succeeded || entry.attempts >= maxAttempts || closed) {
      busyKeys.delete(entry.job.orderingKey);
      release(entry.job.importId);
      dispatch();
      return;
    }

    // The job keeps its key while it waits, then goes back to its place,
    // ahead of the key's jobs enqueued after it.
    const timer = setTimeout(() => {
      retryTimers.delete(timer);
      busyKeys.delete(entry.job.orderingKey);
      insertInPlace(entry);
      dispatch();
    }, retryDelayMs);
    timer.unref();
    retryTimers.add(timer);
    dispatch();
  }

  // Before the first pending job of its key queued after it.
  function insertInPlace(entry: PendingJob): void {
    const later = pending.findIndex(
      (other) =>
        other.job.orderingKey === entry.job.orderingKey &&
        (other.queuedAt > entry.queuedAt ||
          (other.queuedAt === entry.queuedAt && other.seq > entry.seq)),
    );
    if (later === -1) pending.push(entry);
    else pending.splice(later, 0, entry);
  }

  function release(importId: string): void {
    const count = (held.get(importId) ?? 0) - 1;
    if (count > 0) held.set(importId, count);
    else held.delete(importId);
  }

  return {
    capabilities,

    async enqueue(job, enqueueOptions: EnqueueOptions = {}) {
      if (closed) throw new Error('the memory queue is closed');
      const queuedAt =
        enqueueOptions.queuedAt === undefined
          ? (lastQueuedAt = Math.max(Date.now(), lastQueuedAt))
          : queuedAtMs(enqueueOptions.queuedAt);
      held.set(job.importId, (held.get(job.importId) ?? 0) + 1);
      lastSeq += 1;
      insertInPlace({ job: { ...job }, attempts: 0, queuedAt, seq: lastSeq });
      dispatch();
    },

    async findHeldJobs(jobs) {
      return new Set(
        jobs.map((job) => job.importId).filter((id) => held.has(id)),
      );
    },

    async consume(handler, consumeOptions: ConsumeOptions) {
      if (closed) throw new Error('the memory queue is closed');
      const concurrency = Math.max(1, Math.floor(consumeOptions.concurrency));
      const consumer: Consumer = {
        handler,
        runner: new PQueue({ concurrency }),
        concurrency,
        running: 0,
        stopped: false,
        controllers: new Set(),
      };
      consumers.add(consumer);
      dispatch();

      const queueConsumer: QueueConsumer = {
        async stop() {
          consumer.stopped = true;
          await consumer.runner.onIdle();
          consumers.delete(consumer);
        },
      };
      return queueConsumer;
    },

    async close() {
      closed = true;
      for (const timer of retryTimers) clearTimeout(timer);
      retryTimers.clear();
      pending.length = 0;
      held.clear();
      const stopping = [...consumers].map(async (consumer) => {
        consumer.stopped = true;
        for (const controller of consumer.controllers) controller.abort();
        await consumer.runner.onIdle();
      });
      await Promise.all(stopping);
      consumers.clear();
    },
  };
}

function queuedAtMs(queuedAt: string): number {
  const ms = Date.parse(queuedAt);
  if (Number.isNaN(ms)) {
    throw new ImportError(
      ErrorCodes.INVALID_REQUEST,
      `queuedAt is not a timestamp: ${JSON.stringify(queuedAt)}`,
    );
  }
  return ms;
}

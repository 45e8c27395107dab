import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import {
  ErrorCodes,
  ImportError,
  silentLogger,
  type EnqueueOptions,
  type ImportJob,
  type ImportQueue,
  type JobHandler,
  type Logger,
  type QueueCapabilities,
  type QueueConsumer,
} from '@erp-import/core';
import {
  advanceScript,
  chainScript,
  enqueueScript,
  requeueScript,
  swapHeadScript,
} from './ordering-scripts.js';
import {
  keyPart,
  openRedis,
  redisCall,
  runScript,
  type RedisCommandClient,
  type RedisConnection,
} from './redis-client.js';

/** How the queue's locks and retries are sized; see the README. */
export interface RedisQueueSettings {
  /**
   * How long a worker's claim on a job lasts without renewal; a dead
   * worker's job is taken back once it runs out. 30 s by default.
   */
  lockDurationMs?: number;
  /**
   * How often the lock is renewed. A quarter of the lock duration by
   * default, so the event loop may be blocked for about three quarters of
   * it before the lock is at risk.
   */
  lockRenewTimeMs?: number;
  /** How often workers look for jobs whose lock ran out; 15 s by default. */
  stalledIntervalMs?: number;
  /** Deliveries of a job whose handler throws, the first included; 3. */
  maxAttempts?: number;
  /** Times a job may be taken back from a dead worker; `maxAttempts`. */
  maxStalledCount?: number;
  /** The first retry's delay, doubled on each further one; 1 s. */
  retryDelayMs?: number;
  /** How often a worker repairs the ordering chain; `stalledIntervalMs`. */
  reconcileIntervalMs?: number;
}

export interface RedisQueueOptions extends RedisQueueSettings {
  connection: RedisConnection;
  /** Prepended to every key, BullMQ's included; `erp-import` by default. */
  prefix?: string;
  /** The BullMQ queue's name; `imports` by default. */
  queueName?: string;
  logger?: Logger;
}

/**
 * What a BullMQ job carries: the port's job, its own job id and when it
 * was queued (ms since the epoch; absent in entries of older versions).
 */
interface QueueEntry extends ImportJob {
  jobId: string;
  queuedAt?: number;
}

interface RunningJob {
  controller: AbortController;
  /** Why the queue took the job back, when it did. */
  takenBack: 'shutdown' | 'lock-lost' | null;
}

/**
 * A head that has been in the chain this long without a BullMQ job is
 * re-added: its enqueuer died between the two steps.
 */
const reconcileGraceMs = 5_000;

/**
 * The import queue on BullMQ. Delivery, locks, stall detection and retries
 * are BullMQ's; the order per ordering key is this adapter's: jobs of one
 * key wait in a Redis list and only the oldest (the head) is in BullMQ,
 * so BullMQ never holds two jobs of one key (see ordering-scripts.ts).
 *
 * A running job is in `running` with its AbortController. The queue takes
 * it back (aborts it) when the worker shuts down (the job returns to the
 * queue without using up an attempt) or when BullMQ could not renew its
 * lock (another worker may have it now; this one must not hand the key on).
 */
export function createRedisQueue(options: RedisQueueOptions): ImportQueue {
  const redis = openRedis(options.connection);
  const client: RedisCommandClient = redis.client;
  const connectionOptions = redis.connectionOptions;
  if (!connectionOptions) {
    throw new ImportError(
      ErrorCodes.INVALID_REQUEST,
      'the Redis queue needs a URL or an ioredis client (with its options)',
    );
  }
  const prefix = options.prefix ?? 'erp-import';
  const queueName = options.queueName ?? 'imports';
  const logger = (options.logger ?? silentLogger).child({
    component: 'redis-queue',
    queue: queueName,
  });

  const lockDuration = Math.max(1_000, options.lockDurationMs ?? 30_000);
  const lockRenewTime = Math.min(
    lockDuration / 2,
    Math.max(100, options.lockRenewTimeMs ?? Math.floor(lockDuration / 4)),
  );
  const stalledInterval = Math.max(500, options.stalledIntervalMs ?? 15_000);
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const maxStalledCount = Math.max(1, options.maxStalledCount ?? maxAttempts);
  const retryDelay = Math.max(0, options.retryDelayMs ?? 1_000);
  const reconcileInterval = Math.max(
    200,
    options.reconcileIntervalMs ?? stalledInterval,
  );

  const capabilities: QueueCapabilities = {
    durable: true,
    ordered: true,
    // The lock runs out, then the next stall check takes the job back.
    redeliveryAfterMs: lockDuration + stalledInterval,
    maxAttempts,
  };

  const orderingBase = `${prefix}:${queueName}:ord`;
  const keys = {
    pending: (key: string) => `${orderingBase}:pending:${keyPart(key)}`,
    head: (key: string) => `${orderingBase}:head:${keyPart(key)}`,
    heads: `${orderingBase}:heads`,
    reconcileLock: `${orderingBase}:reconciling`,
  };

  const bullQueue = new Queue<QueueEntry>(queueName, {
    connection: { ...connectionOptions },
    prefix,
    defaultJobOptions: {
      attempts: maxAttempts,
      backoff: { type: 'exponential', delay: retryDelay },
      // Kept a while for operators; a finished job is never a head, so
      // removing it cannot make the reconciler add it again.
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  });
  bullQueue.on('error', (error) =>
    logger.warn({ err: error }, 'BullMQ queue connection error'),
  );

  const consumers = new Set<{
    worker: Worker<QueueEntry>;
    running: Map<string, RunningJob>;
  }>();
  let reconcileTimer: NodeJS.Timeout | undefined;
  let closed = false;

  async function addToBull(entryJson: string): Promise<void> {
    const entry = JSON.parse(entryJson) as QueueEntry;
    // The job id makes this idempotent: adding a job BullMQ still holds
    // is a no-op, which is what lets every repair path simply add again.
    await bullQueue.add('import', entry, { jobId: entry.jobId });
  }

  /** The head `jobId` of `orderingKey` is done: the next one moves in. */
  async function handOn(orderingKey: string, jobId: string): Promise<void> {
    const next = (await runScript(
      client,
      advanceScript,
      [keys.pending(orderingKey), keys.head(orderingKey), keys.heads],
      [jobId, orderingKey, Date.now()],
    )) as string | null;
    if (next) await addToBull(next);
  }

  /**
   * Puts `entry` in its key's chain by its `queuedAt`, before the entries
   * queued after it. A head queued after it is taken back from BullMQ
   * when no worker has started it, so that it runs after this one. A
   * crash between the steps leaves either the entry out of the chain (the
   * engine enqueues it again) or a head without a BullMQ job (the
   * reconciler adds it again), never two jobs of one key in BullMQ.
   */
  async function requeue(entry: QueueEntry): Promise<void> {
    const chainKeys = [
      keys.pending(entry.orderingKey),
      keys.head(entry.orderingKey),
      keys.heads,
    ];
    const entryJson = JSON.stringify(entry);
    const place = (displace: '0' | '1') =>
      runScript(client, requeueScript, chainKeys, [
        entryJson,
        entry.orderingKey,
        Date.now(),
        entry.queuedAt ?? 0,
        displace,
      ]) as Promise<[string, string] | null>;

    const placed = await place('1');
    if (placed === null) return;
    const [action, value] = placed;
    if (action === 'add') {
      await addToBull(value);
      return;
    }

    const head = JSON.parse(value) as QueueEntry;
    if (!(await takeBackUnstarted(head.jobId))) {
      const again = await place('0');
      if (again !== null) await addToBull(again[1]);
      return;
    }
    const next = (await runScript(client, swapHeadScript, chainKeys, [
      value,
      entryJson,
      entry.orderingKey,
      Date.now(),
    ])) as string | null;
    if (next !== null) await addToBull(next);
  }

  /**
   * Removes a head's job from BullMQ if it is waiting and no attempt of
   * it ever started; BullMQ refuses to remove a job a worker holds.
   * TODO: a job that starts and fails within the moment between the
   * check and the removal would be removed while retrying, and run again
   * from its first attempt (its import then ends WORKER_LOST through the
   * engine's sweep); BullMQ has no "remove if never started" to make the
   * two one step.
   */
  async function takeBackUnstarted(jobId: string): Promise<boolean> {
    const job = await bullQueue.getJob(jobId);
    // Not in BullMQ yet: its enqueuer may still be adding it.
    if (!job || job.attemptsStarted > 0) return false;
    const state = await job.getState();
    if (state !== 'waiting' && state !== 'prioritized') return false;
    return (await bullQueue.remove(jobId)) === 1;
  }

  /**
   * Repairs what a crash between two steps can leave behind: a head with
   * no BullMQ job (its enqueuer died before adding it), and a head whose
   * BullMQ job ended without its worker handing the key on (failed by
   * BullMQ after too many stalls). One worker at a time does it.
   */
  async function reconcile(): Promise<void> {
    const lock = await client.call(
      'SET',
      keys.reconcileLock,
      randomUUID(),
      'NX',
      'PX',
      reconcileInterval,
    );
    if (lock !== 'OK') return;

    const orderingKeys = (await client.call(
      'ZRANGEBYSCORE',
      keys.heads,
      '-inf',
      Date.now() - reconcileGraceMs,
    )) as string[];
    for (const orderingKey of orderingKeys) {
      const head = (await client.call('GET', keys.head(orderingKey))) as
        string | null;
      if (head === null) {
        await handOn(orderingKey, '');
        continue;
      }
      const { jobId } = JSON.parse(head) as QueueEntry;
      const state = await bullQueue.getJobState(jobId);
      if (state === 'unknown') {
        logger.warn({ orderingKey, jobId }, 're-adding a lost head job');
        await addToBull(head);
      } else if (state === 'completed' || state === 'failed') {
        logger.warn(
          { orderingKey, jobId, state },
          'handing on a finished head',
        );
        await handOn(orderingKey, jobId);
      }
    }
  }

  function startReconciler(): void {
    if (reconcileTimer) return;
    const run = () => {
      reconcile().catch((error: unknown) =>
        logger.warn({ err: error }, 'reconciling the ordering chain failed'),
      );
    };
    run();
    reconcileTimer = setInterval(run, reconcileInterval);
    reconcileTimer.unref();
  }

  async function processJob(
    handler: JobHandler,
    running: Map<string, RunningJob>,
    job: Job<QueueEntry>,
    token: string | undefined,
  ): Promise<void> {
    const { jobId, importId, tenant, entity, orderingKey } = job.data;
    const importJob: ImportJob = { importId, tenant, entity, orderingKey };
    const run: RunningJob = {
      controller: new AbortController(),
      takenBack: null,
    };
    running.set(jobId, run);

    try {
      await handler(importJob, {
        attempt: Math.max(1, job.attemptsStarted),
        signal: run.controller.signal,
      });
    } catch (error) {
      if (run.takenBack === 'shutdown' && token) {
        // Back to the queue at once, without using up an attempt.
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      }
      const final = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (final && run.takenBack === null) {
        // A failed import does not hold up the imports behind it.
        await handOnIfOwned(job, token);
      }
      throw error;
    } finally {
      running.delete(jobId);
    }
    await handOnIfOwned(job, token);
  }

  /**
   * Hands the key on only while this worker still holds the job's lock.
   * Without the lock another worker may be running the same job, and
   * starting the next job of the key now would break the order; that
   * worker hands the key on when it is done.
   */
  async function handOnIfOwned(
    job: Job<QueueEntry>,
    token: string | undefined,
  ): Promise<void> {
    const owned = token ? await job.extendLock(token, lockDuration) : 0;
    if (Number(owned) !== 1) {
      throw new ImportError(
        ErrorCodes.WORKER_LOST,
        `the lock of job ${job.data.jobId} was lost; another worker owns it`,
        { details: { importId: job.data.importId } },
      );
    }
    await handOn(job.data.orderingKey, job.data.jobId);
  }

  return {
    capabilities,

    async enqueue(job, enqueueOptions: EnqueueOptions = {}) {
      if (closed) {
        throw new ImportError(
          ErrorCodes.QUEUE_ERROR,
          'the Redis queue is closed',
        );
      }
      const { queuedAt } = enqueueOptions;
      const entry: QueueEntry = {
        importId: job.importId,
        tenant: job.tenant,
        entity: job.entity,
        orderingKey: job.orderingKey,
        jobId: `${job.importId}.${randomUUID()}`,
        queuedAt: queuedAt === undefined ? Date.now() : Date.parse(queuedAt),
      };
      if (Number.isNaN(entry.queuedAt)) {
        throw new ImportError(
          ErrorCodes.INVALID_REQUEST,
          `queuedAt is not a timestamp: ${JSON.stringify(queuedAt)}`,
        );
      }
      if (queuedAt !== undefined) {
        await redisCall(ErrorCodes.QUEUE_ERROR, 'enqueue an import again', () =>
          requeue(entry),
        );
        return;
      }
      await redisCall(ErrorCodes.QUEUE_ERROR, 'enqueue an import', async () => {
        const head = (await runScript(
          client,
          enqueueScript,
          [
            keys.pending(job.orderingKey),
            keys.head(job.orderingKey),
            keys.heads,
          ],
          [JSON.stringify(entry), job.orderingKey, Date.now()],
        )) as string | null;
        if (head) await addToBull(head);
      });
    },

    async findHeldJobs(jobs) {
      const wanted = new Map<string, Set<string>>();
      for (const job of jobs) {
        const ids = wanted.get(job.orderingKey) ?? new Set<string>();
        ids.add(job.importId);
        wanted.set(job.orderingKey, ids);
      }

      const held = new Set<string>();
      await redisCall(ErrorCodes.QUEUE_ERROR, 'look for jobs', async () => {
        for (const [orderingKey, ids] of wanted) {
          const [head = '', ...pending] = (await runScript(
            client,
            chainScript,
            [keys.pending(orderingKey), keys.head(orderingKey)],
            [],
          )) as string[];
          for (const entryJson of pending) {
            const { importId } = JSON.parse(entryJson) as QueueEntry;
            if (ids.has(importId)) held.add(importId);
          }
          if (head === '') continue;

          // A head BullMQ finished is handed on by the reconciler, not
          // run again; one BullMQ lacks is added again by it.
          const entry = JSON.parse(head) as QueueEntry;
          if (!ids.has(entry.importId) || held.has(entry.importId)) continue;
          const state = await bullQueue.getJobState(entry.jobId);
          if (state !== 'completed' && state !== 'failed') {
            held.add(entry.importId);
          }
        }
      });
      return held;
    },

    async consume(handler, consumeOptions) {
      if (closed) {
        throw new ImportError(
          ErrorCodes.QUEUE_ERROR,
          'the Redis queue is closed',
        );
      }
      const running = new Map<string, RunningJob>();
      const worker = new Worker<QueueEntry>(
        queueName,
        (job, token) => processJob(handler, running, job, token),
        {
          connection: { ...connectionOptions },
          prefix,
          name: `${hostname()}:${process.pid}`,
          concurrency: Math.max(1, Math.floor(consumeOptions.concurrency)),
          lockDuration,
          lockRenewTime,
          stalledInterval,
          maxStalledCount,
        },
      );
      const consumer = { worker, running };
      consumers.add(consumer);

      const takeBack = (jobId: string, why: string) => {
        const run = running.get(jobId);
        if (!run || run.takenBack) return;
        run.takenBack = 'lock-lost';
        logger.warn({ jobId, importId: jobId.split('.')[0] }, why);
        run.controller.abort(
          new ImportError(ErrorCodes.WORKER_LOST, `job ${jobId}: ${why}`),
        );
      };
      worker.on('error', (error) =>
        logger.warn({ err: error }, 'BullMQ worker error'),
      );
      worker.on('lockRenewalFailed', (jobIds) => {
        for (const jobId of jobIds) takeBack(jobId, 'the job lock was lost');
      });
      worker.on('stalled', (jobId) =>
        takeBack(jobId, 'the job stalled and went back to the queue'),
      );

      await redisCall(ErrorCodes.QUEUE_ERROR, 'start a worker', () =>
        worker.waitUntilReady(),
      );
      startReconciler();

      const queueConsumer: QueueConsumer = {
        async stop() {
          await worker.close();
          consumers.delete(consumer);
        },
      };
      return queueConsumer;
    },

    async close() {
      closed = true;
      if (reconcileTimer) clearInterval(reconcileTimer);

      const stopping = [...consumers].map(async ({ worker, running }) => {
        for (const run of running.values()) {
          run.takenBack = 'shutdown';
          run.controller.abort(
            new ImportError(
              ErrorCodes.CANCELLED,
              'the worker is shutting down',
            ),
          );
        }
        await worker.close();
      });
      await Promise.all(stopping);
      consumers.clear();
      await bullQueue.close();
      await redis.close();
    },
  };
}

import PgBoss from 'pg-boss';
import {
  connectHeard,
  ErrorCodes,
  ImportError,
  silentLogger,
  sqlStateOf,
  toImportError,
  type ConsumeOptions,
  type EnqueueOptions,
  type ImportJob,
  type ImportQueue,
  type JobHandler,
  type Logger,
  type QueueCapabilities,
  type QueueConsumer,
} from '@erp-import/core';
import { createJobSignal } from './job-signal.js';
import { inTransaction, type PgPool, type PgQueryable } from './pg-types.js';
import { queueSql } from './queue-sql.js';
import { defaultSchema, quoteSchema } from './schema-name.js';

export interface PgQueueOptions {
  pool: PgPool;
  /**
   * The adapter's schema, `erp_import` by default; pg-boss keeps its
   * tables in `<schema>_queue`.
   */
  schema?: string;
  logger?: Logger;
  /**
   * How long a job may go without a heartbeat before pg-boss expires it
   * and another worker takes it; 60 by default. A live worker renews its
   * jobs every quarter of this, so a long import is never expired.
   */
  redeliveryAfterSeconds?: number;
  /** How often an idle worker looks for jobs; 2 by default, at least 0.5. */
  pollIntervalSeconds?: number;
  /** Deliveries of one job, the first included; 3 by default. */
  maxAttempts?: number;
}

/** The PostgreSQL queue; `boss` is there for operators' tooling. */
export interface PgQueue extends ImportQueue {
  readonly boss: PgBoss;
}

const queueName = 'erp_import';
const timingMarginMs = 2_000;

interface FetchedRow {
  id: string;
  data: ImportJob;
  retry_count: number;
  lease: string;
}

/**
 * The queue on pg-boss 10. A job is a pg-boss job on one queue with the
 * `singleton` policy and the ordering key as its singleton key.
 *
 * A running job's states: fetched (active, with a lease), renewed by a
 * heartbeat every quarter of `redeliveryAfterSeconds`, then completed or
 * failed by the worker that holds the lease. A worker that dies stops
 * renewing; pg-boss's maintenance expires the job (into `retry`, or
 * `failed` after `maxAttempts`) and the next fetch hands it out again.
 */
export async function createPgQueue(options: PgQueueOptions): Promise<PgQueue> {
  const schema = options.schema ?? defaultSchema;
  // Checked as the adapter's schema; the suffix keeps it an identifier.
  quoteSchema(schema);
  const bossSchema = `${schema}_queue`;
  const sql = queueSql(`"${bossSchema}"`);
  const { pool } = options;
  const logger = (options.logger ?? silentLogger).child({
    component: 'pg-queue',
  });

  const expireSeconds = Math.max(
    1,
    Math.ceil(options.redeliveryAfterSeconds ?? 60),
  );
  const pollSeconds = Math.max(0.5, options.pollIntervalSeconds ?? 2);
  const maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 3));
  // pg-boss lets one instance in the whole cluster run maintenance per
  // interval, so an expired job waits up to two intervals to be noticed.
  const maintenanceSeconds = Math.max(1, Math.ceil(expireSeconds / 4));
  const heartbeatMs = Math.max(500, (expireSeconds * 1000) / 4);

  // Expiry, then up to two maintenance intervals, then a poll; plus a
  // margin for late timers and round trips on a busy machine.
  const capabilities: QueueCapabilities = {
    durable: true,
    ordered: true,
    redeliveryAfterMs:
      (expireSeconds + 2 * maintenanceSeconds + pollSeconds) * 1000 +
      timingMarginMs,
    maxAttempts,
  };

  const boss = new PgBoss({
    db: bossDatabase(pool),
    schema: bossSchema,
    schedule: false,
    supervise: true,
    migrate: true,
    maintenanceIntervalSeconds: maintenanceSeconds,
  });
  // pg-boss reports maintenance failures as events; an EventEmitter with
  // no 'error' listener would throw them instead.
  boss.on('error', (error: unknown) => {
    logger.error({ err: error }, 'pg-boss reported an error');
  });

  try {
    // pg-boss creates its schema without guarding against a second process
    // doing the same at the same moment; a server and a worker starting
    // together on a fresh database would collide on pg_namespace.
    await withStartLock(pool, bossSchema, async () => {
      await boss.start();
      await boss.createQueue(queueName, {
        name: queueName,
        policy: 'singleton',
        retryLimit: maxAttempts - 1,
        retryDelay: 0,
        expireInSeconds: expireSeconds,
      });
    });
  } catch (error) {
    await boss.stop({ graceful: false }).catch(() => undefined);
    throw toImportError(error, ErrorCodes.QUEUE_ERROR);
  }

  const consumers = new Set<LocalConsumer>();
  let closed = false;
  const wakeConsumers = () => {
    for (const consumer of consumers) {
      for (const wake of [...consumer.wake]) wake();
    }
  };
  // Idle workers of other processes hear of a ready job at once; the
  // poll is what remains when a notification is lost.
  const signal = createJobSignal({
    pool,
    channel: `${bossSchema}_jobs`,
    logger,
    retryMs: pollSeconds * 1000,
  });
  const signalReady = async () => {
    try {
      await signal.notify();
    } catch (error) {
      logger.warn({ err: error }, 'could not notify the workers of a job');
    }
  };

  async function fetchNext(): Promise<FetchedRow | undefined> {
    try {
      const { rows } = await pool.query(sql.fetch, [queueName]);
      return rows[0] as FetchedRow | undefined;
    } catch (error) {
      // Two workers raced for one key and pg-boss's unique index turned
      // the second away: there is simply nothing to take yet.
      if (sqlStateOf(error) === '23505') return undefined;
      throw error;
    }
  }

  // Completes or fails the job only while this worker still holds it.
  async function settle(
    row: FetchedRow,
    lease: string,
    outcome: { failed: false } | { failed: true; error: unknown },
  ): Promise<void> {
    const held = await inTransaction(pool, async (client) => {
      const { rows } = await client.query(sql.hold, [queueName, row.id, lease]);
      if (rows.length === 0) return false;
      const db = { db: clientDatabase(client) };
      if (outcome.failed) {
        const error = toImportError(outcome.error);
        await boss.fail(queueName, row.id, error.toJSON(), db);
      } else {
        // pg-boss reads the third argument as output data whatever its
        // typings say, so the connection goes fourth.
        await boss.complete(queueName, row.id, {}, db);
      }
      return true;
    });
    if (!held) {
      logger.warn(
        { jobId: row.id, importId: row.data.importId },
        'the job was taken back before it settled; another worker has it',
      );
      return;
    }
    // The next job of its ordering key may be taken now.
    await signalReady();
  }

  async function runJob(row: FetchedRow, handler: JobHandler): Promise<void> {
    const controller = new AbortController();
    let lease = row.lease;
    let renewing: Promise<void> = Promise.resolve();

    const renew = async () => {
      try {
        const { rows } = await pool.query(sql.renew, [
          queueName,
          row.id,
          lease,
        ]);
        const renewed = rows[0] as { lease: string } | undefined;
        if (renewed) {
          lease = renewed.lease;
          return;
        }
        clearInterval(heartbeat);
        controller.abort(
          new ImportError(
            ErrorCodes.WORKER_LOST,
            'the queue took the job back: its heartbeat came too late',
            { details: { jobId: row.id } },
          ),
        );
      } catch (error) {
        // A missed beat is not yet a lost job: the next one may land.
        logger.warn({ err: error, jobId: row.id }, 'job heartbeat failed');
      }
    };
    const heartbeat = setInterval(() => {
      renewing = renewing.then(renew);
    }, heartbeatMs);

    let outcome: { failed: false } | { failed: true; error: unknown };
    try {
      await handler(
        { ...row.data },
        { attempt: row.retry_count + 1, signal: controller.signal },
      );
      outcome = { failed: false };
    } catch (error) {
      outcome = { failed: true, error };
    }

    // A beat in flight may move the lease; settle with the latest one.
    clearInterval(heartbeat);
    await renewing;
    try {
      await settle(row, lease, outcome);
    } catch (error) {
      // The job stays active until it expires, then runs again: the
      // engine's ledger keeps a second run from applying twice.
      logger.error({ err: error, jobId: row.id }, 'could not settle a job');
    }
  }

  function send(
    job: ImportJob,
    db?: ReturnType<typeof clientDatabase>,
  ): Promise<string | null> {
    return boss.send(
      queueName,
      { ...job },
      {
        singletonKey: job.orderingKey,
        retryLimit: maxAttempts - 1,
        retryDelay: 0,
        expireInSeconds: expireSeconds,
        ...(db && { db }),
      },
    );
  }

  function startConsumer(handler: JobHandler, concurrency: number) {
    const consumer: LocalConsumer = {
      stopping: false,
      wake: new Set(),
      stop: async () => {
        consumer.stopping = true;
        for (const wake of [...consumer.wake]) wake();
        await Promise.all(loops);
        consumers.delete(consumer);
      },
    };

    const idle = () =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          consumer.wake.delete(done);
          resolve();
        };
        const timer = setTimeout(done, pollSeconds * 1000);
        consumer.wake.add(done);
      });

    const loop = async () => {
      while (!consumer.stopping) {
        let row: FetchedRow | undefined;
        try {
          row = await fetchNext();
        } catch (error) {
          logger.error({ err: error }, 'could not fetch a job');
        }
        if (row && !consumer.stopping) await runJob(row, handler);
        else if (!consumer.stopping) await idle();
      }
    };

    consumers.add(consumer);
    const loops = Array.from({ length: concurrency }, loop);
    return { stop: consumer.stop };
  }

  return {
    capabilities,
    boss,

    async enqueue(job, enqueueOptions: EnqueueOptions = {}) {
      if (closed) {
        throw new ImportError(ErrorCodes.QUEUE_ERROR, 'the queue is closed');
      }
      const { queuedAt } = enqueueOptions;
      if (queuedAt !== undefined && Number.isNaN(Date.parse(queuedAt))) {
        throw new ImportError(
          ErrorCodes.INVALID_REQUEST,
          `queuedAt is not a timestamp: ${JSON.stringify(queuedAt)}`,
        );
      }
      let id: string | null;
      try {
        id =
          queuedAt === undefined
            ? await send(job)
            : await inTransaction(pool, async (client) => {
                // Placed before it commits, so no fetch sees it out of place.
                const sent = await send(job, clientDatabase(client));
                if (sent !== null) {
                  await client.query(sql.placeAt, [queueName, sent, queuedAt]);
                }
                return sent;
              });
      } catch (error) {
        throw toImportError(error, ErrorCodes.QUEUE_ERROR);
      }
      if (id === null) {
        throw new ImportError(
          ErrorCodes.QUEUE_ERROR,
          'pg-boss did not store the job',
          { details: { importId: job.importId } },
        );
      }
      // Workers of this process need not wait for their next poll, nor
      // those of others.
      wakeConsumers();
      await signalReady();
    },

    async findHeldJobs(jobs) {
      if (jobs.length === 0) return new Set();
      try {
        const { rows } = await pool.query(sql.held, [
          queueName,
          jobs.map((job) => job.importId),
        ]);
        return new Set(
          (rows as { import_id: string }[]).map((row) => row.import_id),
        );
      } catch (error) {
        throw toImportError(error, ErrorCodes.QUEUE_ERROR);
      }
    },

    async consume(
      handler,
      consumeOptions: ConsumeOptions,
    ): Promise<QueueConsumer> {
      if (closed) {
        throw new ImportError(ErrorCodes.QUEUE_ERROR, 'the queue is closed');
      }
      const concurrency = Math.max(1, Math.floor(consumeOptions.concurrency));
      await signal.listen(wakeConsumers);
      return startConsumer(handler, concurrency);
    },

    async close() {
      if (closed) return;
      closed = true;
      // Running jobs finish first; their signals are not aborted, since an
      // aborted import would only run again on another worker.
      await Promise.all([...consumers].map((consumer) => consumer.stop()));
      await signal.stop();
      await boss.stop({ graceful: false, close: false });
    },
  };
}

interface LocalConsumer {
  stopping: boolean;
  /** Resolvers of the idle waits in progress. */
  wake: Set<() => void>;
  /** Stops fetching and waits for the running jobs to settle. */
  stop(): Promise<void>;
}

// pg-boss runs its statements through this instead of a pool of its own,
// so it shares the host's pool. Its maintenance sends several statements
// wrapped in BEGIN ... COMMIT as one text; such a text gets a client of
// its own, rolled back if it fails, so no pooled client is left inside an
// aborted transaction.
function bossDatabase(pool: PgPool) {
  return {
    async executeSql(text: string, values?: unknown[]) {
      if (values !== undefined && values.length > 0) {
        return await pool.query(text, values);
      }
      return inTransactionText(pool, text);
    },
  };
}

async function inTransactionText(pool: PgPool, text: string) {
  const client = await connectHeard(pool);
  try {
    const result = await client.query(text);
    client.release();
    return result;
  } catch (error) {
    await client.query('ROLLBACK').then(
      () => client.release(),
      (rollbackError: unknown) =>
        client.release(rollbackError instanceof Error ? rollbackError : true),
    );
    throw error;
  }
}

function clientDatabase(client: PgQueryable) {
  return {
    async executeSql(text: string, values?: unknown[]) {
      return await client.query(text, values);
    },
  };
}

/** Runs `start` while holding a session advisory lock named for `schema`. */
async function withStartLock(
  pool: PgPool,
  schema: string,
  start: () => Promise<void>,
): Promise<void> {
  const client = await connectHeard(pool);
  try {
    await client.query(
      `SELECT pg_advisory_lock(hashtext('erp-import:pg-boss-start'), hashtext($1))`,
      [schema],
    );
    try {
      await start();
    } finally {
      await client.query(
        `SELECT pg_advisory_unlock(hashtext('erp-import:pg-boss-start'), hashtext($1))`,
        [schema],
      );
    }
  } finally {
    client.release();
  }
}

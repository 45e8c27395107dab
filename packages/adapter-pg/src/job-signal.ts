import type { Logger } from '@erp-import/core';
import type { PgPool, PgPoolClient } from './pg-types.js';

/**
 * Wakes the idle workers of every process when a job may be ready (one
 * was queued, or one finished and so freed its ordering key), through
 * LISTEN/NOTIFY on a channel of the queue's schema: an import starts as
 * soon as it is queued instead of at a worker's next poll.
 *
 * Polling stays the floor: a notification is only a hint, lost while the
 * listening connection is down, and a worker that misses one still finds
 * the job at its next poll.
 *
 * States: idle (no consumer in this process), listening (one pooled
 * connection held, LISTEN sent), reconnecting (the connection broke; a
 * new one is tried after `retryMs`), stopped.
 */
export interface JobSignal {
  /** Starts listening, once; `onSignal` runs on each notification. */
  listen(onSignal: () => void): Promise<void>;
  /** Notifies every listener, in `db`'s transaction when given. */
  notify(db?: { query: PgPool['query'] }): Promise<void>;
  stop(): Promise<void>;
}

/** The members of a pooled `pg` client that LISTEN needs. */
interface ListeningClient extends PgPoolClient {
  on(event: 'notification', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
}

export function createJobSignal(options: {
  pool: PgPool;
  /** An identifier, already safe to quote (the schema's name and more). */
  channel: string;
  logger: Logger;
  retryMs: number;
}): JobSignal {
  const { pool, channel, logger } = options;
  let client: ListeningClient | undefined;
  let onSignal: (() => void) | undefined;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;

  async function connect(): Promise<void> {
    if (stopped || onSignal === undefined || client !== undefined) return;
    let connected: ListeningClient | undefined;
    try {
      connected = (await pool.connect()) as ListeningClient;
      if (typeof connected.on !== 'function') {
        // A pool whose clients cannot listen: polling alone, as before.
        connected.release();
        return;
      }
      const wake = onSignal;
      connected.on('notification', () => wake());
      const lost = (error?: Error) => {
        if (client !== connected) return;
        client = undefined;
        connected?.release(error ?? true);
        if (!stopped) {
          logger.warn(
            { err: error },
            'lost the job notifications; polling until they are back',
          );
          retry = setTimeout(() => void connect(), options.retryMs);
          retry.unref();
        }
      };
      connected.on('error', lost);
      connected.on('end', () => lost());
      await connected.query(`LISTEN "${channel}"`);
      client = connected;
      if (stopped) await release();
    } catch (error) {
      connected?.release(true);
      logger.warn({ err: error }, 'could not listen for job notifications');
      if (!stopped) {
        retry = setTimeout(() => void connect(), options.retryMs);
        retry.unref();
      }
    }
  }

  async function release(): Promise<void> {
    const held = client;
    client = undefined;
    if (held === undefined) return;
    try {
      await held.query(`UNLISTEN "${channel}"`);
      held.release();
    } catch (error) {
      held.release(error instanceof Error ? error : true);
    }
  }

  return {
    async listen(listener) {
      if (onSignal !== undefined) return;
      onSignal = listener;
      await connect();
    },
    async notify(db = pool) {
      await db.query('SELECT pg_notify($1, NULL)', [channel]);
    },
    async stop() {
      stopped = true;
      clearTimeout(retry);
      await release();
    },
  };
}

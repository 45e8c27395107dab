import { createPgAdapters } from '@erp-import/adapter-pg';
import {
  createImporter,
  type Importer,
  type ImportQueue,
  type Logger,
} from '@erp-import/core';
import pg from 'pg';
import { exampleDefinitions } from './definitions.js';

/**
 * What the example server, worker and demo share: their configuration,
 * read from the environment, and the engine built from it on PostgreSQL.
 */
export interface ExampleConfig {
  /** The target tables and, by default, the adapters' tables. */
  databaseUrl: string;
  port: number;
  /** Bearer token to tenant. */
  tokens: Map<string, string>;
  maxUploadBytes: number | undefined;
  queue: 'pg' | 'redis';
  redisUrl: string | undefined;
  /** Imports one worker process handles at once. */
  concurrency: number;
}

export function readExampleConfig(
  env: NodeJS.ProcessEnv = process.env,
): ExampleConfig {
  const databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) {
    throw new Error('DATABASE_URL is required (postgres://user@host/db)');
  }

  const queue = env.ERP_IMPORT_QUEUE ?? 'pg';
  if (queue !== 'pg' && queue !== 'redis') {
    throw new Error(`ERP_IMPORT_QUEUE must be pg or redis, not "${queue}"`);
  }

  return {
    databaseUrl,
    port: positiveInteger(env, 'PORT') ?? 3000,
    tokens: parseTokens(env.ERP_IMPORT_TOKENS ?? ''),
    maxUploadBytes:
      positiveInteger(env, 'ERP_IMPORT_MAX_UPLOAD_BYTES') ??
      defaultMaxUploadBytes,
    queue,
    redisUrl: env.REDIS_URL,
    concurrency: positiveInteger(env, 'ERP_IMPORT_CONCURRENCY') ?? 2,
  };
}

/** Uploads past this are refused unless ERP_IMPORT_MAX_UPLOAD_BYTES says. */
export const defaultMaxUploadBytes = 2 * 1024 * 1024 * 1024;

/** `token:tenant` pairs, comma-separated. */
export function parseTokens(text: string): Map<string, string> {
  const tokens = new Map<string, string>();
  for (const pair of text.split(',')) {
    if (pair.trim() === '') continue;
    const at = pair.indexOf(':');
    const token = pair.slice(0, at).trim();
    const tenant = pair.slice(at + 1).trim();
    if (at <= 0 || token === '' || tenant === '') {
      throw new Error(`ERP_IMPORT_TOKENS: "${pair}" is not token:tenant`);
    }
    tokens.set(token, tenant);
  }
  return tokens;
}

function positiveInteger(
  env: NodeJS.ProcessEnv,
  name: string,
): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive integer, not "${text}"`);
  }
  return value;
}

export interface ExampleHost {
  importer: Importer;
  pool: pg.Pool;
  /** Stops the adapters, then ends the pool. */
  close(): Promise<void>;
}

/**
 * The engine on PostgreSQL: one pool for the target tables and the
 * adapters, so an import's `completed` commits with its rows.
 */
export async function createExampleHost(
  config: Pick<ExampleConfig, 'databaseUrl' | 'maxUploadBytes' | 'queue'> &
    Partial<Pick<ExampleConfig, 'redisUrl'>>,
  logger: Logger,
): Promise<ExampleHost> {
  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 10 });
  // An idle client that loses its server must not crash the process.
  pool.on('error', (error) => logger.warn({ err: error }, 'pg pool error'));

  try {
    const adapters = await createPgAdapters({ pool, logger });

    // ERP_IMPORT_QUEUE=redis moves only the queue to BullMQ; the status
    // store, error log and files stay in PostgreSQL.
    let queue: ImportQueue = adapters.queue;
    if (config.queue === 'redis') {
      if (!config.redisUrl) {
        await adapters.close();
        throw new Error('ERP_IMPORT_QUEUE=redis needs REDIS_URL');
      }
      // Loaded only when asked for: BullMQ and ioredis weigh some 15 MB
      // in every process that starts them.
      const { createRedisQueue } = await import('@erp-import/adapter-redis');
      queue = createRedisQueue({
        connection: { url: config.redisUrl },
        logger,
      });
    }

    const importer = createImporter({
      definitions: exampleDefinitions,
      database: pool,
      queue,
      statusStore: adapters.statusStore,
      errorLog: adapters.errorLog,
      fileStore: adapters.fileStore,
      logger,
      // Keeps what each import changed, so `POST /imports/:id/revert` can
      // undo it (for the core's default retention of 7 days).
      keepBeforeImages: true,
      ...(config.maxUploadBytes !== undefined && {
        maxUploadBytes: config.maxUploadBytes,
      }),
    });

    return {
      importer,
      pool,
      async close() {
        if (queue !== adapters.queue) await queue.close();
        await adapters.close();
        await pool.end();
      },
    };
  } catch (error) {
    await pool.end();
    throw error;
  }
}

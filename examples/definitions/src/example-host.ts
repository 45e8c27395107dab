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
  /** The Redis queue's key prefix; the adapter's default when absent. */
  redisPrefix: string | undefined;
  /** Imports one worker process handles at once. */
  concurrency: number;
  /** The processes' pino level (LOG_LEVEL). */
  logLevel: LogLevel;
}

const logLevels = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
] as const;
export type LogLevel = (typeof logLevels)[number];

export function readExampleConfig(
  env: NodeJS.ProcessEnv = process.env,
): ExampleConfig {
  const databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) {
    throw new Error('DATABASE_URL is required (postgres://user@host/db)');
  }
  // Not echoed: it may hold a password.
  if (!isPostgresUrl(databaseUrl)) {
    throw new Error(
      'DATABASE_URL is not a postgres:// URL (postgres://user@host/db)',
    );
  }

  const queue = env.ERP_IMPORT_QUEUE ?? 'pg';
  if (queue !== 'pg' && queue !== 'redis') {
    throw new Error(`ERP_IMPORT_QUEUE must be pg or redis, not "${queue}"`);
  }
  if (queue === 'redis' && !env.REDIS_URL) {
    throw new Error(
      'ERP_IMPORT_QUEUE=redis needs REDIS_URL (redis://host:6379)',
    );
  }

  const logLevel = env.LOG_LEVEL || 'info';
  if (!(logLevels as readonly string[]).includes(logLevel)) {
    throw new Error(
      `LOG_LEVEL must be one of ${logLevels.join(', ')}, not "${logLevel}"`,
    );
  }

  const port = positiveInteger(env, 'PORT') ?? 3000;
  if (port > 65535) {
    throw new Error(`PORT must be at most 65535, not "${env.PORT}"`);
  }

  return {
    databaseUrl,
    port,
    tokens: parseTokens(env.ERP_IMPORT_TOKENS ?? ''),
    maxUploadBytes:
      positiveInteger(env, 'ERP_IMPORT_MAX_UPLOAD_BYTES') ??
      defaultMaxUploadBytes,
    queue,
    redisUrl: env.REDIS_URL,
    redisPrefix: env.ERP_IMPORT_REDIS_PREFIX?.trim() || undefined,
    concurrency: positiveInteger(env, 'ERP_IMPORT_CONCURRENCY') ?? 2,
    logLevel: logLevel as LogLevel,
  };
}

// What pg's connection strings take: a URL, or a socket folder and a
// database name after a space.
function isPostgresUrl(text: string): boolean {
  if (text.startsWith('/')) return true;
  if (!URL.canParse(text)) return false;
  return ['postgres:', 'postgresql:', 'socket:'].includes(
    new URL(text).protocol,
  );
}

/** sysexits' EX_CONFIG: the process was started with a bad setting. */
export const configErrorExitCode = 78;

/** sysexits' EX_UNAVAILABLE: the database could not be used at start. */
export const unavailableExitCode = 69;

/**
 * `readExampleConfig` for a process's entry point: a setting that is
 * missing or malformed is said in one line on stderr, prefixed with the
 * program's name, and the process exits with EX_CONFIG. The message says
 * what to set; a stack trace would only bury it.
 */
export function readExampleConfigOrExit(
  program: string,
  env: NodeJS.ProcessEnv = process.env,
): ExampleConfig {
  try {
    return readExampleConfig(env);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${program}: ${message}\n`);
    process.exit(configErrorExitCode);
  }
}

// The codes of a database that cannot be reached or entered (no server,
// no such host, role or database, not accepting connections yet): the
// host's settings or the server's state, not a fault of the example.
const unreachableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  '28000',
  '28P01',
  '3D000',
  '57P03',
]);

/**
 * `createExampleHost` for a process's entry point: a database that
 * cannot be reached or entered at start is said in one line on stderr,
 * and the process exits with EX_UNAVAILABLE. Any other error is thrown.
 */
export async function createExampleHostOrExit(
  program: string,
  config: Parameters<typeof createExampleHost>[0],
  logger: Logger,
): Promise<ExampleHost> {
  try {
    return await createExampleHost(config, logger);
  } catch (error) {
    const code = connectionCodeOf(error);
    if (code === undefined) throw error;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(
      `${program}: the database in DATABASE_URL cannot be used: ${message}\n`,
    );
    process.exit(unavailableExitCode);
  }
}

// pg's error or Node's, as thrown or as the cause the adapters wrap.
function connectionCodeOf(error: unknown): string | undefined {
  for (let at = error; at instanceof Error; at = at.cause) {
    const { code } = at as { code?: unknown };
    if (typeof code === 'string' && unreachableCodes.has(code)) return code;
  }
  return undefined;
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
  /** Stops the adapters, then ends the pool and its connections. */
  close(): Promise<void>;
}

/**
 * The engine on PostgreSQL: one pool for the target tables and the
 * adapters, so an import's `completed` commits with its rows.
 */
export async function createExampleHost(
  config: Pick<ExampleConfig, 'databaseUrl' | 'maxUploadBytes' | 'queue'> &
    Partial<Pick<ExampleConfig, 'redisUrl' | 'redisPrefix'>>,
  logger: Logger,
): Promise<ExampleHost> {
  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 10 });
  // An idle client that loses its server must not crash the process. The
  // error carries the whole pg client (`err.client`), kilobytes once
  // logged: its code and message are what an operator needs.
  pool.on('error', (error: Error & { code?: string }) => {
    logger.warn({ code: error.code }, `pg pool error: ${error.message}`);
  });
  const closing = trackConnections(pool);

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
        ...(config.redisPrefix !== undefined && { prefix: config.redisPrefix }),
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
        await closing.end();
      },
    };
  } catch (error) {
    await closing.end();
    throw error;
  }
}

/**
 * `pool.end()` resolves once it has asked its clients to end, before
 * their connections have closed. A PostgreSQL stopped right after (the
 * demo's embedded one) then terminates them (57P01, "terminating
 * connection due to administrator command"), which the pool reports as
 * an error. `end` here resolves when the last connection has closed.
 */
function trackConnections(pool: pg.Pool): { end(): Promise<void> } {
  const open = new Set<pg.PoolClient>();
  let lastClosed: (() => void) | undefined;
  pool.on('connect', (client) => open.add(client));
  pool.on('remove', (client) => {
    open.delete(client);
    if (open.size === 0) lastClosed?.();
  });

  return {
    async end() {
      const closed =
        open.size === 0
          ? Promise.resolve()
          : new Promise<void>((resolve) => (lastClosed = resolve));
      await pool.end();
      await closed;
    },
  };
}

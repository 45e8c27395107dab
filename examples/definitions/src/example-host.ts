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

  const queue = env.ERP_IMPORT_QUEUE || 'pg';
  if (queue !== 'pg' && queue !== 'redis') {
    throw new Error(`ERP_IMPORT_QUEUE must be pg or redis, not "${queue}"`);
  }
  if (queue === 'redis' && !env.REDIS_URL) {
    throw new Error(
      'ERP_IMPORT_QUEUE=redis needs REDIS_URL (redis://host:6379)',
    );
  }
  // Not echoed either. ioredis takes anything else for a socket path and
  // retries it for ever, its password in every log line.
  if (queue === 'redis' && !isRedisUrl(env.REDIS_URL ?? '')) {
    throw new Error('REDIS_URL is not a redis:// URL (redis://host:6379)');
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

function isRedisUrl(text: string): boolean {
  if (!URL.canParse(text)) return false;
  return ['redis:', 'rediss:'].includes(new URL(text).protocol);
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

/** sysexits' EX_UNAVAILABLE: the database or port was unusable at start. */
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

/** How long the start-up probe waits for the database to answer. */
const probeTimeoutMs = 10_000;

/**
 * `createExampleHost` for a process's entry point. The database is tried
 * first, with one connection and one query: whatever stops that (no
 * server, a host that is not PostgreSQL, SSL, a role or database that
 * does not exist, a bad option in the URL) is the host's settings or the
 * server's state, said in one line on stderr, and the process exits with
 * EX_UNAVAILABLE. An error after it is the example's own and is thrown.
 */
export async function createExampleHostOrExit(
  program: string,
  config: Parameters<typeof createExampleHost>[0],
  logger: Logger,
): Promise<ExampleHost> {
  const probe = new pg.Client({
    connectionString: config.databaseUrl,
    connectionTimeoutMillis: probeTimeoutMs,
  });
  // A connection lost after the probe's error is of no more interest.
  probe.on('error', () => undefined);
  const started = Date.now();
  try {
    await probe.connect();
    await probe.query('SELECT 1');
  } catch (error) {
    let message = error instanceof Error ? error.message : String(error);
    // pg says only "timeout expired": a server that never answered as
    // PostgreSQL would (another service on the port, a firewall).
    if (Date.now() - started >= probeTimeoutMs) {
      message += ` (no PostgreSQL answered in ${probeTimeoutMs / 1000} s)`;
    }
    process.stderr.write(
      `${program}: the database in DATABASE_URL cannot be used: ${message}\n`,
    );
    process.exit(unavailableExitCode);
  } finally {
    await probe.end().catch(() => undefined);
  }
  return createExampleHost(config, logger);
}

/** Uploads past this are refused unless ERP_IMPORT_MAX_UPLOAD_BYTES says. */
export const defaultMaxUploadBytes = 2 * 1024 * 1024 * 1024;

/** `token:tenant` pairs, comma-separated. */
export function parseTokens(text: string): Map<string, string> {
  const tokens = new Map<string, string>();
  const pairs = text.split(',');
  for (const [index, pair] of pairs.entries()) {
    if (pair.trim() === '') continue;
    const at = pair.indexOf(':');
    const token = pair.slice(0, at).trim();
    const tenant = pair.slice(at + 1).trim();
    // Said by its place, not quoted: the pair holds a secret.
    if (at <= 0 || token === '' || tenant === '') {
      throw new Error(
        `ERP_IMPORT_TOKENS: pair ${index + 1} of ${pairs.length} is not ` +
          'token:tenant',
      );
    }
    // One token for two tenants would let the last one silently win.
    if (tokens.has(token)) {
      throw new Error(
        `ERP_IMPORT_TOKENS: pair ${index + 1} of ${pairs.length} repeats ` +
          'the token of an earlier pair',
      );
    }
    tokens.set(token, tenant);
  }
  return tokens;
}

function positiveInteger(
  env: NodeJS.ProcessEnv,
  name: string,
): number | undefined {
  const text = env[name]?.trim();
  if (!text) return undefined;
  // Decimal digits only: Number() would also take 0x10, 1e3 and +5.
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || value <= 0) {
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

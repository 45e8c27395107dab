import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { ErrorCodes, ImportError, type ErrorCode } from '@erp-import/core';

/**
 * The one member of an ioredis client the status store and the error log
 * call. Typed structurally, so a host can pass its own client (or a
 * wrapper) without this package pinning one copy of ioredis.
 */
export interface RedisCommandClient {
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
}

/** An ioredis client as the queue sees it: commands plus its options. */
export interface RedisClientLike extends RedisCommandClient {
  /** ioredis keeps its parsed connection options here. */
  readonly options?: object;
}

/**
 * Where the adapters find Redis: a URL (the adapter opens and closes its
 * own connections) or a client the host owns (the adapter never closes
 * it).
 */
export type RedisConnection = { url: string } | RedisClientLike;

export interface OpenedRedis {
  client: RedisCommandClient;
  /**
   * Options for BullMQ, which opens its own connections from them; absent
   * when a host's client does not expose its options.
   */
  connectionOptions: Record<string, unknown> | undefined;
  /** Closes the client when the adapter opened it; a no-op otherwise. */
  close(): Promise<void>;
}

export function openRedis(connection: RedisConnection): OpenedRedis {
  if ('url' in connection && typeof connection.url === 'string') {
    // lazyConnect: nothing is dialled until the first command, so creating
    // an adapter never throws on a Redis that is still starting.
    const client = new Redis(connection.url, { lazyConnect: true });
    return {
      client,
      connectionOptions: connectionOptionsOf(client.options),
      async close() {
        await client.quit().catch(() => client.disconnect());
      },
    };
  }

  const client = connection as RedisClientLike;
  return {
    client,
    connectionOptions: client.options
      ? connectionOptionsOf(client.options)
      : undefined,
    async close() {
      // The host's client: the host closes it.
    },
  };
}

function connectionOptionsOf(options: object): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...options };
  if (typeof copy.keyPrefix === 'string' && copy.keyPrefix !== '') {
    throw new ImportError(
      ErrorCodes.INVALID_REQUEST,
      "the Redis client has a keyPrefix; use the adapters' prefix option instead",
    );
  }
  // BullMQ sets these itself for the connections it opens.
  delete copy.lazyConnect;
  delete copy.maxRetriesPerRequest;
  return copy;
}

/** A Lua script with its SHA1, run by EVALSHA with a fallback to EVAL. */
export interface LuaScript {
  source: string;
  sha: string;
}

export function luaScript(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

export async function runScript(
  client: RedisCommandClient,
  script: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await client.call(
      'EVALSHA',
      script.sha,
      keys.length,
      ...keys,
      ...args,
    );
  } catch (error) {
    // The server lost its script cache (restart, SCRIPT FLUSH): send it.
    if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
    return client.call('EVAL', script.source, keys.length, ...keys, ...args);
  }
}

/**
 * A part of a key that comes from outside (a tenant, an ordering key):
 * encoded so that `:` inside it cannot make two keys collide.
 * encodeURIComponent throws on a lone surrogate (a string that is not
 * well-formed UTF-16), so each one is written as `%uD800` first: that
 * form cannot come out of encodeURIComponent, which writes `%` as `%25`.
 */
export function keyPart(value: string): string {
  return value
    .split(loneSurrogate)
    .map((part) =>
      part.length === 1 && loneSurrogate.test(part)
        ? `%u${part.charCodeAt(0).toString(16).toUpperCase()}`
        : encodeURIComponent(part),
    )
    .join('');
}

// Capturing, so that split keeps the surrogates it splits on.
const loneSurrogate =
  /([\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff])/;

/** Runs a Redis call and turns its failure into an ImportError. */
export async function redisCall<T>(
  code: ErrorCode,
  what: string,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ImportError) throw error;
    throw new ImportError(
      code,
      `Redis failed to ${what}: ${messageOf(error)}`,
      {
        cause: error,
      },
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

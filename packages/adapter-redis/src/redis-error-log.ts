import {
  ErrorCodes,
  ImportError,
  type ErrorLog,
  type ErrorPage,
  type LoggedRowIssue,
  type RowIssue,
} from '@erp-import/core';
import {
  keyPart,
  luaScript,
  openRedis,
  redisCall,
  runScript,
  type RedisCommandClient,
  type RedisConnection,
} from './redis-client.js';

export interface RedisErrorLogOptions {
  connection: RedisConnection;
  /** Prepended to every key; `erp-import` by default. */
  prefix?: string;
  /**
   * Seconds an import's entries are kept after its last append; kept for
   * good when unset (the audit default).
   */
  errorRetentionSeconds?: number;
}

const maxPageSize = 1000;

/*
 * Keys of one import (`<p>` is `<prefix>:errors:<import id>`):
 *   <p>:seq      the last seq handed out
 *   <p>:error    sorted set, score seq, member `<seq>|<entry JSON>`
 *   <p>:warning  the same for warnings
 * The seq in the member keeps equal entries distinct; splitting by
 * severity lets a filtered page read only what it returns.
 */
const appendScript = luaScript(`
local count = (#ARGV - 1) / 2
local last = redis.call('INCRBY', KEYS[3], count)
local seq = last - count
for i = 1, count do
  seq = seq + 1
  local key = KEYS[2]
  if ARGV[2 * i] == 'error' then key = KEYS[1] end
  redis.call('ZADD', key, seq, seq .. '|' .. ARGV[2 * i + 1])
end
local retention = tonumber(ARGV[1])
if retention > 0 then
  for i = 1, 3 do redis.call('EXPIRE', KEYS[i], retention) end
end
return last
`);

/**
 * The error log in Redis. `append` runs as one Lua script, so a batch is
 * stored whole or not at all and its seqs are contiguous; `page` reads
 * by score after the cursor, so pages do not shift as entries arrive.
 */
export function createRedisErrorLog(options: RedisErrorLogOptions): ErrorLog {
  const redis = openRedis(options.connection);
  const client: RedisCommandClient = redis.client;
  const prefix = `${options.prefix ?? 'erp-import'}:errors`;
  const retention = Math.max(0, Math.floor(options.errorRetentionSeconds ?? 0));

  const keysOf = (importId: string) => {
    const base = `${prefix}:${keyPart(importId)}`;
    return {
      error: `${base}:error`,
      warning: `${base}:warning`,
      seq: `${base}:seq`,
    };
  };

  async function readAfter(
    key: string,
    afterSeq: number,
    count: number,
  ): Promise<LoggedRowIssue[]> {
    const members = (await client.call(
      'ZRANGEBYSCORE',
      key,
      `(${afterSeq}`,
      '+inf',
      'LIMIT',
      0,
      count,
    )) as string[];
    return members.map(parseMember);
  }

  return {
    async append(importId, entries) {
      // Check the whole batch first: it is stored whole or not at all.
      entries.forEach(assertValidIssue);
      if (entries.length === 0) return;

      const keys = keysOf(importId);
      const args: (string | number)[] = [retention];
      for (const entry of entries) {
        args.push(entry.severity, JSON.stringify(entry));
      }
      await redisCall(ErrorCodes.STORE_ERROR, 'append to the error log', () =>
        runScript(
          client,
          appendScript,
          [keys.error, keys.warning, keys.seq],
          args,
        ),
      );
    },

    async page(importId, query): Promise<ErrorPage> {
      const limit = Math.min(Math.max(1, Math.floor(query.limit)), maxPageSize);
      const afterSeq = Math.max(0, Math.floor(query.afterSeq ?? 0));
      const keys = keysOf(importId);

      // One more than a page tells whether another page follows.
      const found = await redisCall(
        ErrorCodes.STORE_ERROR,
        'read the error log',
        async () => {
          if (query.severity) {
            return readAfter(keys[query.severity], afterSeq, limit + 1);
          }
          const [errors, warnings] = await Promise.all([
            readAfter(keys.error, afterSeq, limit + 1),
            readAfter(keys.warning, afterSeq, limit + 1),
          ]);
          return [...errors, ...warnings].sort((a, b) => a.seq - b.seq);
        },
      );

      const items = found.slice(0, limit);
      const last = items.at(-1);
      return {
        items,
        nextAfterSeq: found.length > limit && last ? last.seq : null,
      };
    },

    async count(importId) {
      const keys = keysOf(importId);
      const [errors, warnings] = await redisCall(
        ErrorCodes.STORE_ERROR,
        'count the error log',
        () =>
          Promise.all([
            client.call('ZCARD', keys.error),
            client.call('ZCARD', keys.warning),
          ]),
      );
      return { errors: Number(errors), warnings: Number(warnings) };
    },

    async clear(importId) {
      const keys = keysOf(importId);
      await redisCall(ErrorCodes.STORE_ERROR, 'clear the error log', () =>
        client.call('DEL', keys.error, keys.warning, keys.seq),
      );
    },

    async close() {
      await redis.close();
    },
  };
}

function parseMember(member: string): LoggedRowIssue {
  const bar = member.indexOf('|');
  const seq = Number(member.slice(0, bar));
  const issue = JSON.parse(member.slice(bar + 1)) as RowIssue;
  return { ...issue, seq };
}

/** What every error log requires of an entry, as the memory one does. */
function assertValidIssue(issue: RowIssue): void {
  const valid =
    (issue.severity === 'error' || issue.severity === 'warning') &&
    Number.isInteger(issue.position?.recordNumber) &&
    typeof issue.code === 'string' &&
    issue.code !== '' &&
    typeof issue.message === 'string';
  if (!valid) {
    throw new ImportError(
      ErrorCodes.INVALID_REQUEST,
      'an error log entry needs a severity, a record number, a code and a message',
      { details: { code: issue.code } },
    );
  }
}

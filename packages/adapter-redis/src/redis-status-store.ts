import {
  ErrorCodes,
  ImportError,
  type ImportListPage,
  type ImportProgress,
  type ImportRecord,
  type ImportState,
  type ImportTransition,
  type StatusStore,
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

export interface RedisStatusStoreOptions {
  connection: RedisConnection;
  /** Prepended to every key; `erp-import` by default. */
  prefix?: string;
}

const maxPageSize = 500;
const maxTransitionTries = 20;

/*
 * Keys (`<p>` is `<prefix>:status`):
 *   <p>:rec:<id>                   hash: record (JSON, without progress),
 *                                  progress (JSON), state, tenant,
 *                                  member, version
 *   <p>:idem:<tenant>:<key>        the id an idempotency key named
 *   <p>:idx:t:<tenant>             sorted sets, all scores 0, members
 *   <p>:idx:te:<tenant>:<entity>   `<createdAt>\0<id>`: read backwards by
 *   <p>:idx:ts:<tenant>:<state>    lex they are newest first, and a member
 *   <p>:idx:s:<state>              is an exact keyset cursor
 * Progress lives in its own field so that a worker's progress writes never
 * race a state change; `version` moves on every transition and makes the
 * transition a compare-and-set.
 */

const createScript = luaScript(`
if ARGV[7] == '1' then
  local existing = redis.call('GET', KEYS[2])
  if existing then return {0, existing} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1, ARGV[1]} end
if ARGV[7] == '1' then redis.call('SET', KEYS[2], ARGV[1]) end
redis.call('HSET', KEYS[1], 'record', ARGV[2], 'progress', ARGV[3],
  'state', ARGV[4], 'tenant', ARGV[5], 'member', ARGV[6], 'version', 1)
for i = 3, 6 do redis.call('ZADD', KEYS[i], 0, ARGV[6]) end
return {1, ARGV[1]}
`);

// KEYS: record, old state's two indexes, new state's two indexes.
// ARGV: version read, record JSON, state, progress JSON or '', member.
const transitionScript = luaScript(`
local version = redis.call('HGET', KEYS[1], 'version')
if not version then return 0 end
if version ~= ARGV[1] then return -1 end
redis.call('HSET', KEYS[1], 'record', ARGV[2], 'state', ARGV[3],
  'version', tonumber(version) + 1)
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'progress', ARGV[4]) end
if KEYS[2] ~= KEYS[4] then
  redis.call('ZREM', KEYS[2], ARGV[5])
  redis.call('ZREM', KEYS[3], ARGV[5])
  redis.call('ZADD', KEYS[4], 0, ARGV[5])
  redis.call('ZADD', KEYS[5], 0, ARGV[5])
end
return 1
`);

// A progress write lands only while the import can still make progress:
// a late write must not overwrite the final progress of a finished import.
const progressScript = luaScript(`
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'queued' or state == 'processing' then
  redis.call('HSET', KEYS[1], 'progress', ARGV[1])
  return 1
end
return 0
`);

const readManyScript = luaScript(`
local found = {}
for i = 1, #KEYS do
  found[i] = redis.call('HMGET', KEYS[i], 'record', 'progress', 'state')
end
return found
`);

type StoredRecord = Omit<ImportRecord, 'progress'>;

/**
 * The status store in Redis. Every write that must be atomic (create with
 * its idempotency check, a transition with its index moves) is one Lua
 * script; reads are plain commands.
 */
export function createRedisStatusStore(
  options: RedisStatusStoreOptions,
): StatusStore {
  const redis = openRedis(options.connection);
  const client: RedisCommandClient = redis.client;
  const prefix = `${options.prefix ?? 'erp-import'}:status`;

  const recordKey = (id: string) => `${prefix}:rec:${keyPart(id)}`;
  const idempotencyKeyOf = (tenant: string, key: string) =>
    `${prefix}:idem:${keyPart(tenant)}:${keyPart(key)}`;
  const tenantIndex = (tenant: string) => `${prefix}:idx:t:${keyPart(tenant)}`;
  const entityIndex = (tenant: string, entity: string) =>
    `${prefix}:idx:te:${keyPart(tenant)}:${keyPart(entity)}`;
  const tenantStateIndex = (tenant: string, state: ImportState) =>
    `${prefix}:idx:ts:${keyPart(tenant)}:${state}`;
  const stateIndex = (state: ImportState) => `${prefix}:idx:s:${state}`;

  async function readRecord(id: string): Promise<ImportRecord | undefined> {
    const [record, progress, state] = (await client.call(
      'HMGET',
      recordKey(id),
      'record',
      'progress',
      'state',
    )) as (string | null)[];
    return assemble(record ?? null, progress ?? null, state ?? null);
  }

  /**
   * Pages an index newest first, keeping the records `matches` accepts.
   * Reads in batches, since a filter may drop some of a batch.
   */
  async function pageIndex(
    index: string,
    matches: (record: ImportRecord) => boolean,
    limit: number,
    cursor: string | undefined,
  ): Promise<ImportListPage> {
    const size = Math.min(Math.max(1, Math.floor(limit)), maxPageSize);
    const batchSize = Math.min(size * 2 + 1, 1000);
    const found: { member: string; record: ImportRecord }[] = [];
    let upper = cursor === undefined ? '+' : `(${decodeCursor(cursor)}`;

    while (found.length <= size) {
      const members = (await client.call(
        'ZREVRANGEBYLEX',
        index,
        upper,
        '-',
        'LIMIT',
        0,
        batchSize,
      )) as string[];
      if (members.length === 0) break;

      const rows = (await runScript(
        client,
        readManyScript,
        members.map((member) => recordKey(idOfMember(member))),
        [],
      )) as (string | null)[][];
      members.forEach((member, i) => {
        const [record, progress, state] = rows[i] ?? [];
        const assembled = assemble(
          record ?? null,
          progress ?? null,
          state ?? null,
        );
        if (assembled && matches(assembled))
          found.push({ member, record: assembled });
      });

      upper = `(${members.at(-1)}`;
      if (members.length < batchSize) break;
    }

    const page = found.slice(0, size);
    const last = page.at(-1);
    return {
      items: page.map((entry) => entry.record),
      nextCursor:
        found.length > size && last ? encodeCursor(last.member) : null,
    };
  }

  return {
    async create(record) {
      const member = memberOf(record);
      const idempotent = record.idempotencyKey !== null;
      const idempotencyKey = idempotencyKeyOf(
        record.tenant,
        record.idempotencyKey ?? '',
      );
      const { progress, ...stored } = record;

      const [outcome, id] = (await redisCall(
        ErrorCodes.STORE_ERROR,
        'create an import record',
        () =>
          runScript(
            client,
            createScript,
            [
              recordKey(record.id),
              idempotencyKey,
              tenantIndex(record.tenant),
              entityIndex(record.tenant, record.entity),
              tenantStateIndex(record.tenant, record.state),
              stateIndex(record.state),
            ],
            [
              record.id,
              JSON.stringify(stored),
              JSON.stringify(progress),
              record.state,
              record.tenant,
              member,
              idempotent ? '1' : '0',
            ],
          ),
      )) as [number, string];

      if (outcome === 1)
        return { record: structuredClone(record), created: true };
      if (outcome === -1) {
        throw new ImportError(
          ErrorCodes.STORE_ERROR,
          `import ${record.id} already exists`,
          { details: { id: record.id } },
        );
      }
      const existing = await readRecord(id);
      if (!existing) {
        throw new ImportError(
          ErrorCodes.STORE_ERROR,
          `the idempotency key names import ${id}, which is gone`,
          { details: { id } },
        );
      }
      return { record: existing, created: false };
    },

    async get(tenant, id) {
      const record = await redisCall(
        ErrorCodes.STORE_ERROR,
        'read an import record',
        () => readRecord(id),
      );
      return record && record.tenant === tenant ? record : undefined;
    },

    async getByIdempotencyKey(tenant, idempotencyKey) {
      return redisCall(
        ErrorCodes.STORE_ERROR,
        'read an import record',
        async () => {
          const id = (await client.call(
            'GET',
            idempotencyKeyOf(tenant, idempotencyKey),
          )) as string | null;
          const record = id === null ? undefined : await readRecord(id);
          return record && record.tenant === tenant ? record : undefined;
        },
      );
    },

    async getById(id) {
      return redisCall(ErrorCodes.STORE_ERROR, 'read an import record', () =>
        readRecord(id),
      );
    },

    async list(query) {
      const { tenant, entity, state } = query;
      const index =
        state !== undefined
          ? tenantStateIndex(tenant, state)
          : entity !== undefined
            ? entityIndex(tenant, entity)
            : tenantIndex(tenant);
      return redisCall(ErrorCodes.STORE_ERROR, 'list import records', () =>
        pageIndex(
          index,
          (record) =>
            record.tenant === tenant &&
            (entity === undefined || record.entity === entity) &&
            (state === undefined || record.state === state),
          query.limit,
          query.cursor,
        ),
      );
    },

    async listByState(query) {
      return redisCall(ErrorCodes.STORE_ERROR, 'list import records', () =>
        pageIndex(
          stateIndex(query.state),
          (record) => record.state === query.state,
          query.limit,
          query.cursor,
        ),
      );
    },

    async transition(id, from, patch) {
      // Optimistic: read, patch, and write only if no transition came in
      // between (the version); another transition means read again.
      for (let tries = 0; tries < maxTransitionTries; tries += 1) {
        const read = (await redisCall(
          ErrorCodes.STORE_ERROR,
          'read an import record',
          () =>
            client.call(
              'HMGET',
              recordKey(id),
              'record',
              'progress',
              'state',
              'version',
              'member',
            ),
        )) as (string | null)[];
        const [recordJson, progressJson, state, version, member] = read;
        const current = assemble(
          recordJson ?? null,
          progressJson ?? null,
          state ?? null,
        );
        if (!current || !version || !member) return undefined;
        if (!from.includes(current.state)) return undefined;

        const next = applyTransition(current, patch);
        const { progress, ...stored } = next;
        const outcome = await redisCall(
          ErrorCodes.STORE_ERROR,
          'change an import record',
          () =>
            runScript(
              client,
              transitionScript,
              [
                recordKey(id),
                tenantStateIndex(current.tenant, current.state),
                stateIndex(current.state),
                tenantStateIndex(current.tenant, next.state),
                stateIndex(next.state),
              ],
              [
                version,
                JSON.stringify(stored),
                next.state,
                patch.progress === undefined ? '' : JSON.stringify(progress),
                member,
              ],
            ),
        );
        if (outcome === 1) return next;
        if (outcome === 0) return undefined;
      }
      throw new ImportError(
        ErrorCodes.STORE_ERROR,
        `import ${id} kept changing while a transition was tried`,
        { details: { id } },
      );
    },

    async updateProgress(id, progress: ImportProgress) {
      await redisCall(ErrorCodes.STORE_ERROR, 'write progress', () =>
        runScript(
          client,
          progressScript,
          [recordKey(id)],
          [JSON.stringify(progress)],
        ),
      );
    },

    async close() {
      await redis.close();
    },
  };
}

function assemble(
  recordJson: string | null,
  progressJson: string | null,
  state: string | null,
): ImportRecord | undefined {
  if (recordJson === null || progressJson === null || state === null) {
    return undefined;
  }
  const stored = JSON.parse(recordJson) as StoredRecord;
  const progress = JSON.parse(progressJson) as ImportProgress;
  return { ...stored, state: state as ImportState, progress };
}

function applyTransition(
  record: ImportRecord,
  patch: ImportTransition,
): ImportRecord {
  const next: ImportRecord = { ...record };
  for (const [field, value] of Object.entries(patch)) {
    if (value !== undefined) {
      (next as unknown as Record<string, unknown>)[field] =
        structuredClone(value);
    }
  }
  return next;
}

/** Sorts as (createdAt, id): `\0` is below every character of both. */
function memberOf(record: ImportRecord): string {
  return `${record.createdAt}\u0000${record.id}`;
}

function idOfMember(member: string): string {
  return member.slice(member.indexOf('\u0000') + 1);
}

function encodeCursor(member: string): string {
  return Buffer.from(member, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const member = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!member.includes('\u0000')) {
    throw new ImportError(ErrorCodes.INVALID_REQUEST, 'invalid list cursor', {
      details: { cursor },
    });
  }
  return member;
}

import type { ImportRecord } from '../../ports/import-record.js';
import type { ImportListPage, StatusStore } from '../../ports/status-store.js';
import { decodeListCursor, encodeListCursor } from './list-cursor.js';

const maxPageSize = 500;

/**
 * Import records in the process's memory, for tests and development. Every
 * call hands out copies, so a caller that edits a record edits only its own
 * copy, as it would with a database behind the port.
 */
export function createMemoryStatusStore(): StatusStore {
  const records = new Map<string, ImportRecord>();
  const byIdempotencyKey = new Map<string, string>();

  const idempotencyKeyOf = (tenant: string, key: string) =>
    JSON.stringify([tenant, key]);

  function page(
    matches: (record: ImportRecord) => boolean,
    limit: number,
    cursor: string | undefined,
  ): ImportListPage {
    const after = cursor === undefined ? undefined : decodeListCursor(cursor);
    const size = Math.min(Math.max(1, Math.floor(limit)), maxPageSize);
    const sorted = [...records.values()]
      .filter(matches)
      .filter((record) => after === undefined || isOlder(record, after))
      .sort(newestFirst);

    const items = sorted
      .slice(0, size)
      .map((record) => structuredClone(record));
    const last = items.at(-1);
    const nextCursor =
      sorted.length > size && last ? encodeListCursor(last) : null;
    return { items, nextCursor };
  }

  return {
    async create(record) {
      // Nothing awaits between the check and the write: the check is atomic.
      if (record.idempotencyKey !== null) {
        const key = idempotencyKeyOf(record.tenant, record.idempotencyKey);
        const existingId = byIdempotencyKey.get(key);
        const existing =
          existingId === undefined ? undefined : records.get(existingId);
        if (existing) {
          return { record: structuredClone(existing), created: false };
        }
        byIdempotencyKey.set(key, record.id);
      }
      if (records.has(record.id)) {
        throw new Error(`import ${record.id} already exists`);
      }
      records.set(record.id, structuredClone(record));
      return { record: structuredClone(record), created: true };
    },

    async get(tenant, id) {
      const record = records.get(id);
      return record && record.tenant === tenant
        ? structuredClone(record)
        : undefined;
    },

    async getByIdempotencyKey(tenant, idempotencyKey) {
      const id = byIdempotencyKey.get(idempotencyKeyOf(tenant, idempotencyKey));
      const record = id === undefined ? undefined : records.get(id);
      return record ? structuredClone(record) : undefined;
    },

    async getById(id) {
      const record = records.get(id);
      return record ? structuredClone(record) : undefined;
    },

    async list(query) {
      return page(
        (record) =>
          record.tenant === query.tenant &&
          (query.entity === undefined || record.entity === query.entity) &&
          (query.state === undefined || record.state === query.state),
        query.limit,
        query.cursor,
      );
    },

    async listByState(query) {
      return page(
        (record) => record.state === query.state,
        query.limit,
        query.cursor,
      );
    },

    async transition(id, from, patch) {
      const record = records.get(id);
      if (!record || !from.includes(record.state)) return undefined;
      const next: ImportRecord = { ...record };
      for (const [field, value] of Object.entries(patch)) {
        if (value !== undefined) {
          (next as unknown as Record<string, unknown>)[field] =
            structuredClone(value);
        }
      }
      records.set(id, next);
      return structuredClone(next);
    },

    async updateProgress(id, progress) {
      const record = records.get(id);
      if (record) records.set(id, { ...record, progress: { ...progress } });
    },
  };
}

function newestFirst(a: ImportRecord, b: ImportRecord): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Whether `record` comes after the cursor's record, newest first. */
function isOlder(
  record: ImportRecord,
  cursor: { createdAt: string; id: string },
): boolean {
  if (record.createdAt !== cursor.createdAt) {
    return record.createdAt < cursor.createdAt;
  }
  return record.id < cursor.id;
}

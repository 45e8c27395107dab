import { createHash, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { createDefinitionRegistry } from '../src/definitions/definition-registry.js';
import type { EnqueueRequest, Importer } from '../src/engine/importer-types.js';
import { ErrorCodes, ImportError } from '../src/errors/import-error.js';
import type { LoggedRowIssue } from '../src/ports/error-log.js';
import type { ImportRecord } from '../src/ports/import-record.js';
import { sampleImportRecord } from '../src/testing/sample-import-record.js';

/**
 * An Importer that keeps records in a map and loads nothing: enough to
 * test what the router does over HTTP (statuses, auth, problem+json,
 * paging) without a database. Loading is tested end to end elsewhere.
 */
export interface FakeImporter extends Importer {
  records: Map<string, ImportRecord>;
  /** The bytes of each upload, as the router handed them over. */
  bodies: Map<string, Buffer>;
  issues: LoggedRowIssue[];
  lastListQuery: unknown;
  lastErrorsQuery: unknown;
  /** Makes the next call of any method throw this. */
  failNext: unknown;
}

export function createFakeImporter(): FakeImporter {
  const definitions = createDefinitionRegistry([
    {
      entity: 'customers',
      table: 'customers',
      key: ['customer_id'],
      tenantColumn: 'tenant_id',
      description: 'Customers',
      columns: [
        { name: 'customer_id', type: 'text', source: 'customerID' },
        { name: 'balance', type: 'numeric', precision: 12, scale: 2 },
      ],
    },
  ]);

  const fake: FakeImporter = {
    definitions,
    records: new Map(),
    bodies: new Map(),
    issues: [],
    lastListQuery: undefined,
    lastErrorsQuery: undefined,
    failNext: undefined,

    async enqueue(request: EnqueueRequest) {
      throwIfAsked();
      const existing = [...fake.records.values()].find(
        (record) =>
          request.idempotencyKey !== undefined &&
          record.tenant === request.tenant &&
          record.idempotencyKey === request.idempotencyKey,
      );
      const bytes = await readAll(request.body);
      if (existing) return { record: existing, created: false };

      const record = sampleImportRecord({
        id: randomUUID(),
        tenant: request.tenant,
        entity: request.entity,
        format: request.format,
        fileName: request.fileName ?? null,
        submittedBy: request.submittedBy ?? null,
        idempotencyKey: request.idempotencyKey ?? null,
        byteSize: bytes.length,
        checksum: createHash('sha256').update(bytes).digest('hex'),
        options: request.options ?? {},
      });
      fake.records.set(record.id, record);
      fake.bodies.set(record.id, bytes);
      return { record, created: true };
    },

    async get(tenant, id) {
      throwIfAsked();
      const record = fake.records.get(id);
      if (!record || record.tenant !== tenant) {
        throw new ImportError(ErrorCodes.NOT_FOUND, `no import ${id}`);
      }
      return record;
    },

    async list(query) {
      throwIfAsked();
      fake.lastListQuery = query;
      const items = [...fake.records.values()].filter(
        (record) =>
          record.tenant === query.tenant &&
          (query.entity === undefined || record.entity === query.entity) &&
          (query.state === undefined || record.state === query.state),
      );
      return { items: items.slice(0, query.limit), nextCursor: null };
    },

    async errors(tenant, id, query) {
      await fake.get(tenant, id);
      fake.lastErrorsQuery = query;
      const after = query.afterSeq ?? 0;
      const matching = fake.issues.filter(
        (issue) =>
          issue.seq > after &&
          (query.severity === undefined || issue.severity === query.severity),
      );
      const items = matching.slice(0, query.limit);
      const last = items.at(-1);
      return {
        items,
        nextAfterSeq: matching.length > query.limit && last ? last.seq : null,
      };
    },

    async *errorsCsv(tenant, id) {
      await fake.get(tenant, id);
      yield 'line,column,code,message,raw_value\n';
      for (const issue of fake.issues) {
        yield (
          `${issue.position.line ?? ''},${issue.column ?? ''},` +
          `${issue.code},${issue.message},${issue.rawValue ?? ''}\n`
        );
      }
    },

    async cancel(tenant, id) {
      const record = await fake.get(tenant, id);
      if (record.state !== 'queued') {
        throw new ImportError(
          ErrorCodes.INVALID_STATE,
          `import ${id} is ${record.state}, not queued`,
        );
      }
      const cancelled: ImportRecord = { ...record, state: 'cancelled' };
      fake.records.set(id, cancelled);
      return cancelled;
    },

    async retry(tenant, id) {
      const record = await fake.get(tenant, id);
      if (record.state !== 'failed') {
        throw new ImportError(
          ErrorCodes.INVALID_STATE,
          `import ${id} is ${record.state}, not failed`,
        );
      }
      const queued: ImportRecord = { ...record, state: 'queued' };
      fake.records.set(id, queued);
      return queued;
    },

    async process() {
      throw new Error('the fake importer loads nothing');
    },

    async startWorker() {
      throw new Error('the fake importer loads nothing');
    },

    async recoverStale() {
      return [];
    },

    async fixFile() {
      throw new Error('the fake importer keeps no files');
    },

    async revert(tenant, id) {
      const record = await fake.get(tenant, id);
      const reverted: ImportRecord = { ...record, state: 'reverted' };
      fake.records.set(id, reverted);
      return reverted;
    },

    async purgeBeforeImages() {
      return 0;
    },
  };

  function throwIfAsked(): void {
    const failure = fake.failNext;
    if (failure !== undefined) {
      fake.failNext = undefined;
      throw failure;
    }
  }

  return fake;
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

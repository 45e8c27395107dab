import { Readable } from 'node:stream';
import type pg from 'pg';
import {
  createImporter,
  createMemoryErrorLog,
  createMemoryFileStore,
  createMemoryQueue,
  createMemoryStatusStore,
  type ImportDefinitionInput,
  type ImportFormat,
  type Importer,
  type ImportRecord,
  type LoggedRowIssue,
  type Logger,
} from '../src/index.js';
import { waitFor } from '../src/testing.js';

/**
 * The engine with in-memory ports around a real PostgreSQL, for tests
 * that send files of any format through enqueue, a worker, and the
 * loader, and then read the counts, the error log and the tables.
 */
export interface EngineHarness {
  importer: Importer;
  /** Enqueues a file and waits until its import settles. */
  run(request: RunRequest): Promise<ImportRecord>;
  /** Every entry of an import's error log, in order. */
  errors(record: ImportRecord): Promise<LoggedRowIssue[]>;
  /** An import's fix file, read whole as UTF-8 text. */
  fixFileText(record: ImportRecord): Promise<string>;
  stop(): Promise<void>;
}

export interface RunRequest {
  entity: string;
  format: ImportFormat;
  body: string | Buffer;
  tenant?: string;
  /** Load options such as `{ mode: 'sync' }`. */
  load?: { mode?: 'upsert' | 'insert' | 'update' | 'sync' };
  /** The encoding the import declares. */
  encoding?: string;
}

export interface EngineHarnessOptions {
  /**
   * Files from this size are read in the parse thread; 0 sends every
   * file there, Infinity none.
   */
  parseThreadMinBytes?: number;
  logger?: Logger;
}

export async function startEngineHarness(
  pool: pg.Pool,
  definitions: ImportDefinitionInput[],
  options: EngineHarnessOptions = {},
): Promise<EngineHarness> {
  const importer = createImporter({
    definitions,
    database: pool,
    queue: createMemoryQueue({ retryDelayMs: 10 }),
    statusStore: createMemoryStatusStore(),
    errorLog: createMemoryErrorLog(),
    fileStore: createMemoryFileStore(),
    ...(options.parseThreadMinBytes !== undefined && {
      parseThreadMinBytes: options.parseThreadMinBytes,
    }),
    ...(options.logger !== undefined && { logger: options.logger }),
  });
  const worker = await importer.startWorker({ concurrency: 1 });

  return {
    importer,
    async run({ entity, format, body, tenant = 'acme', load, encoding }) {
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      const { record } = await importer.enqueue({
        tenant,
        entity,
        format,
        body: Readable.from([bytes]),
        ...(load !== undefined && { load }),
        ...(encoding !== undefined && { options: { encoding } }),
      });
      return waitFor(
        async () => {
          const current = await importer.get(tenant, record.id);
          return ['completed', 'failed', 'cancelled'].includes(current.state)
            ? current
            : undefined;
        },
        { timeoutMs: 60_000, description: `import ${record.id} to settle` },
      );
    },
    async errors(record) {
      const items: LoggedRowIssue[] = [];
      let afterSeq: number | undefined;
      for (;;) {
        const page = await importer.errors(record.tenant, record.id, {
          limit: 500,
          ...(afterSeq !== undefined && { afterSeq }),
        });
        items.push(...page.items);
        if (page.nextAfterSeq === null) return items;
        afterSeq = page.nextAfterSeq;
      }
    },
    async fixFileText(record) {
      const fix = await importer.fixFile(record.tenant, record.id);
      let text = '';
      for await (const chunk of fix.body) text += chunk.toString('utf8');
      return text;
    },
    stop: () => worker.stop(),
  };
}

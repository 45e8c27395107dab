import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { sharedPath } from '@erp-import/dev-services/shared-files';
import {
  createImporter,
  createMemoryErrorLog,
  createMemoryFileStore,
  createMemoryQueue,
  createMemoryStatusStore,
  type FileStore,
  type Importer,
  type ImportProgress,
  type ImportRecord,
  type ImportState,
  type ImportWorker,
  type StatusStore,
} from '../src/index.js';
import { waitFor } from '../src/testing.js';

const itemsCsvPath = sharedPath(
  'cases',
  '19-pgqueue-worker-crash-orphaned-lock',
  'items.csv',
);

const database = useTestDatabase('engine_csv');
let pool: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 6 });
});

afterAll(async () => {
  await pool.end();
});

const itemsDefinition = {
  entity: 'items',
  table: 'items',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text' as const },
    { name: 'name', type: 'text' as const, nullable: false },
    { name: 'qty', type: 'integer' as const, nullable: false },
  ],
};

interface Harness {
  importer: Importer;
  statusStore: StatusStore;
  fileStore: FileStore;
  progressWrites: ImportProgress[];
  puts: string[];
  worker?: ImportWorker;
}

// Memory ports around the real PostgreSQL, with the file store's puts and
// the status store's progress writes recorded for the tests to read.
function createHarness(progressIntervalMs = 500): Harness {
  const statusStore = createMemoryStatusStore();
  const fileStore = createMemoryFileStore();
  const progressWrites: ImportProgress[] = [];
  const puts: string[] = [];
  const recordingStore: StatusStore = {
    ...statusStore,
    updateProgress: async (id, progress) => {
      progressWrites.push(progress);
      await statusStore.updateProgress(id, progress);
    },
  };
  const recordingFiles: FileStore = {
    ...fileStore,
    put: (key, body, options) => {
      puts.push(key);
      return fileStore.put(key, body, options);
    },
  };
  const importer = createImporter({
    definitions: [itemsDefinition],
    database: pool,
    queue: createMemoryQueue({ retryDelayMs: 10 }),
    statusStore: recordingStore,
    errorLog: createMemoryErrorLog(),
    fileStore: recordingFiles,
    progressIntervalMs,
  });
  return {
    importer,
    statusStore: recordingStore,
    fileStore: recordingFiles,
    progressWrites,
    puts,
  };
}

async function settled(
  importer: Importer,
  tenant: string,
  id: string,
  states: ImportState[] = ['completed', 'failed', 'cancelled'],
): Promise<ImportRecord> {
  return waitFor(
    async () => {
      const record = await importer.get(tenant, id);
      return states.includes(record.state) ? record : undefined;
    },
    { timeoutMs: 60_000, description: `import ${id} to settle` },
  );
}

const csv = (text: string) => Readable.from([Buffer.from(text, 'utf8')]);

async function tableRows(): Promise<unknown[]> {
  const result = await pool.query(
    'SELECT sku, name, qty FROM items ORDER BY sku',
  );
  return result.rows;
}

beforeEach(async () => {
  await pool.query('DROP TABLE IF EXISTS items');
  await pool.query(
    'CREATE TABLE items (sku text PRIMARY KEY, name text NOT NULL, qty integer NOT NULL)',
  );
});

describe('engine, CSV end to end', () => {
  it('imports a CSV file and reports counts, rows and errors', async () => {
    const harness = createHarness();
    const { importer } = harness;
    const worker = await importer.startWorker({ concurrency: 2 });
    try {
      const good = await importer.enqueue({
        tenant: 'acme',
        entity: 'items',
        format: 'csv',
        body: Readable.from([await readFile(itemsCsvPath)]),
        fileName: 'items.csv',
        submittedBy: 'desk-1',
      });
      expect(good.created).toBe(true);
      expect(good.record).toMatchObject({
        state: 'queued',
        fileName: 'items.csv',
        submittedBy: 'desk-1',
        fileKey: `acme/${good.record.id}`,
        progress: { phase: 'waiting' },
      });

      const done = await settled(importer, 'acme', good.record.id);
      expect(done.state).toBe('completed');
      expect(done.counts).toEqual({
        read: 3,
        inserted: 3,
        updated: 0,
        unchanged: 0,
        deleted: 0,
        rejected: 0,
        superseded: 0,
        skipped: 0,
      });
      expect(done.attempts).toBe(1);
      expect(done.progress).toMatchObject({ phase: 'done', recordsRead: 3 });
      expect(done.detected.delimiter).toBe(',');
      expect(await tableRows()).toEqual([
        { sku: 'Q-1', name: 'Grampo', qty: 10 },
        { sku: 'Q-2', name: 'Clipe', qty: 20 },
        { sku: 'Q-3', name: 'Fita', qty: 30 },
      ]);

      // The second file updates one row, keeps one, rejects two.
      const second = await importer.enqueue({
        tenant: 'acme',
        entity: 'items',
        format: 'csv',
        body: csv(
          'sku,name,qty\nQ-1,Grampo,11\nQ-2,Clipe,20\nQ-4,"Cola, ""branca""",x\nQ-5,,5\nQ-6,Lápis,7\n',
        ),
      });
      const secondDone = await settled(importer, 'acme', second.record.id);
      expect(secondDone.counts).toMatchObject({
        read: 5,
        inserted: 1,
        updated: 1,
        unchanged: 1,
        rejected: 2,
      });

      const errors = await importer.errors('acme', second.record.id, {
        limit: 10,
      });
      expect(errors.items.map((item) => item.position.line)).toEqual([4, 5]);
      expect(errors.items[0]).toMatchObject({
        column: 'qty',
        rawValue: 'x',
        severity: 'error',
      });

      let text = '';
      for await (const chunk of importer.errorsCsv('acme', second.record.id)) {
        text += chunk;
      }
      const lines = text.split('\r\n');
      expect(lines[0]).toBe(
        'record_number,line,end_line,path,column,code,message,raw_value,severity',
      );
      expect(lines[1]).toMatch(/^3,4,,,qty,[a-z_]+,.*,x,error$/);
      expect(lines).toHaveLength(4);
      expect(lines[3]).toBe('');
    } finally {
      await worker.stop();
    }
  });

  it('fails a file that does not decode, then goes on with the next', async () => {
    const { importer } = createHarness();
    const worker = await importer.startWorker();
    try {
      const bad = await importer.enqueue({
        tenant: 'acme',
        entity: 'items',
        format: 'csv',
        options: { encoding: 'utf-8' },
        body: Readable.from([
          Buffer.concat([
            Buffer.from('sku,name,qty\nQ-1,Gr'),
            Buffer.from([0xff, 0xfe, 0xc3]),
            Buffer.from('ampo,10\n'),
          ]),
        ]),
      });
      const next = await importer.enqueue({
        tenant: 'acme',
        entity: 'items',
        format: 'csv',
        body: csv('sku,name,qty\nQ-9,Clipe,1\n'),
      });

      const failed = await settled(importer, 'acme', bad.record.id);
      expect(failed.state).toBe('failed');
      expect(failed.failure?.code).toBe('ENCODING_ERROR');
      expect(failed.finishedAt).not.toBeNull();

      const completed = await settled(importer, 'acme', next.record.id);
      expect(completed.state).toBe('completed');
      expect(await tableRows()).toEqual([
        { sku: 'Q-9', name: 'Clipe', qty: 1 },
      ]);
    } finally {
      await worker.stop();
    }
  });

  it('writes growing progress while a large file is read', async () => {
    const harness = createHarness(50);
    const { importer } = harness;
    const rows = 200_000;
    // A row already there: the import merges (an empty table would take
    // the rows directly, with no MERGE to see in the status).
    await pool.query("INSERT INTO items VALUES ('other', 'Other', 1)");
    const body = Readable.from(
      (function* () {
        yield 'sku,name,qty\n';
        for (let start = 0; start < rows; start += 1000) {
          let chunk = '';
          for (let index = start; index < start + 1000; index += 1) {
            chunk += `S-${index},Item ${index},${index % 1000}\n`;
          }
          yield chunk;
        }
      })(),
    );

    const { record } = await importer.enqueue({
      tenant: 'acme',
      entity: 'items',
      format: 'csv',
      body,
    });
    const worker = await importer.startWorker();
    try {
      const done = await settled(importer, 'acme', record.id);
      expect(done.state).toBe('completed');
      expect(done.counts).toMatchObject({ read: rows, inserted: rows });

      const reading = harness.progressWrites.filter(
        (progress) => progress.phase === 'reading' && progress.recordsRead > 0,
      );
      const counts = reading.map((progress) => progress.recordsRead);
      expect(new Set(counts).size).toBeGreaterThanOrEqual(2);
      expect([...counts].sort((a, b) => a - b)).toEqual(counts);
      expect(reading.every((p) => p.bytesTotal === record.byteSize)).toBe(true);
      expect(reading.at(-1)?.bytesRead).toBeGreaterThan(0);
      // The MERGE of 200,000 rows takes longer than one progress interval:
      // the status shows it, after reading and before done.
      const phases = harness.progressWrites.map((progress) => progress.phase);
      expect(phases).toContain('merging');
      expect(phases.lastIndexOf('reading')).toBeLessThan(
        phases.indexOf('merging'),
      );
      const { rows: count } = await pool.query(
        'SELECT count(*)::int AS n FROM items',
      );
      expect(count[0]).toEqual({ n: rows + 1 });
    } finally {
      await worker.stop();
    }
  });

  it('answers a repeated idempotency key with the first import, storing once', async () => {
    const harness = createHarness();
    const { importer } = harness;
    const request = {
      tenant: 'acme',
      entity: 'items',
      format: 'csv' as const,
      idempotencyKey: 'upload-42',
    };

    const first = await importer.enqueue({
      ...request,
      body: csv('sku,name,qty\nQ-1,A,1\n'),
    });
    const again = await importer.enqueue({
      ...request,
      body: csv('sku,name,qty\nQ-1,A,1\n'),
    });
    const otherTenant = await importer.enqueue({
      ...request,
      tenant: 'globex',
      body: csv('sku,name,qty\nQ-1,A,1\n'),
    });

    expect(first.created).toBe(true);
    expect(again).toEqual({ record: first.record, created: false });
    expect(otherTenant.created).toBe(true);
    expect(harness.puts).toEqual([
      first.record.fileKey,
      otherTenant.record.fileKey,
    ]);
    await expect(
      importer.enqueue({ ...request, entity: 'nope', body: csv('') }),
    ).rejects.toMatchObject({ code: 'UNKNOWN_ENTITY' });

    // The same key for other bytes (a corrected export sent under the
    // first one's key) is refused, not silently answered with the first.
    await expect(
      importer.enqueue({ ...request, body: csv('sku,name,qty\nQ-1,B,2\n') }),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
    expect(harness.puts).toHaveLength(2);
  });

  it('refuses an unknown encoding or a bad delimiter before storing', async () => {
    const harness = createHarness();
    const request = {
      tenant: 'acme',
      entity: 'items',
      format: 'csv' as const,
      body: csv('sku,name,qty\nQ-1,A,1\n'),
    };
    await expect(
      harness.importer.enqueue({
        ...request,
        options: { encoding: 'klingon' },
      }),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(
      harness.importer.enqueue({ ...request, options: { delimiter: 'abc' } }),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    expect(harness.puts).toEqual([]);
  });

  it('cancels only queued imports and retries only failed ones', async () => {
    const { importer } = createHarness();
    const body = () => csv('sku,name,qty\nQ-7,Régua,3\n');
    const queued = await importer.enqueue({
      tenant: 'acme',
      entity: 'items',
      format: 'csv',
      body: body(),
    });

    await expect(
      importer.retry('acme', queued.record.id),
    ).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
    const cancelled = await importer.cancel('acme', queued.record.id);
    expect(cancelled.state).toBe('cancelled');
    await expect(
      importer.cancel('acme', queued.record.id),
    ).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });

    // A missing table fails the import; once it exists, retry completes it.
    await pool.query('DROP TABLE items');
    const failing = await importer.enqueue({
      tenant: 'acme',
      entity: 'items',
      format: 'csv',
      body: body(),
    });
    const worker = await importer.startWorker();
    try {
      const failed = await settled(importer, 'acme', failing.record.id);
      expect(failed.state).toBe('failed');
      expect(failed.failure?.code).toBeTruthy();
      await expect(importer.cancel('acme', failed.id)).rejects.toMatchObject({
        code: 'INVALID_STATE',
      });

      await pool.query(
        'CREATE TABLE items (sku text PRIMARY KEY, name text NOT NULL, qty integer NOT NULL)',
      );
      const retried = await importer.retry('acme', failed.id);
      expect(retried).toMatchObject({ state: 'queued', failure: null });
      expect(retried.counts.read).toBe(0);

      const completed = await settled(importer, 'acme', failed.id);
      expect(completed.state).toBe('completed');
      expect(completed.attempts).toBe(2);
      expect(await tableRows()).toEqual([
        { sku: 'Q-7', name: 'Régua', qty: 3 },
      ]);

      // The cancelled import was never processed.
      expect((await importer.get('acme', cancelled.id)).state).toBe(
        'cancelled',
      );
    } finally {
      await worker.stop();
    }
  });

  it('shows a tenant only its own imports', async () => {
    const { importer } = createHarness();
    const { record } = await importer.enqueue({
      tenant: 'acme',
      entity: 'items',
      format: 'csv',
      body: csv('sku,name,qty\nQ-1,A,1\n'),
    });

    const notFound = { code: 'NOT_FOUND' };
    await expect(importer.get('globex', record.id)).rejects.toMatchObject(
      notFound,
    );
    await expect(
      importer.errors('globex', record.id, { limit: 10 }),
    ).rejects.toMatchObject(notFound);
    await expect(importer.cancel('globex', record.id)).rejects.toMatchObject(
      notFound,
    );
    await expect(importer.retry('globex', record.id)).rejects.toMatchObject(
      notFound,
    );
    const iterator = importer
      .errorsCsv('globex', record.id)
      [Symbol.asyncIterator]();
    await expect(iterator.next()).rejects.toMatchObject(notFound);

    expect(
      (await importer.list({ tenant: 'globex', limit: 10 })).items,
    ).toEqual([]);
    const mine = await importer.list({ tenant: 'acme', limit: 10 });
    expect(mine.items.map((item) => item.id)).toEqual([record.id]);
  });
});

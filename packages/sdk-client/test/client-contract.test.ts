import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  sharedData,
  startExample,
  type RunningExample,
} from '@erp-import/example-express-server/test-harness';
import { parse } from 'csv-parse/sync';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ErpImportApiError,
  createClient as createPortableClient,
  type PublicImportRecord,
} from '../src/index.js';
import { createClient, type NodeErpImportClient } from '../src/node.js';

// Every route of the HTTP contract, through the client, against the
// example server on PostgreSQL with a worker running.

const database = useTestDatabase('sdk_client_contract');
const northwind = sharedData('northwind-customers.csv');

let stack: RunningExample;
let client: NodeErpImportClient;

beforeAll(async () => {
  stack = await startExample(database.url);
  client = clientFor('token-a');
});

afterAll(async () => {
  await stack?.close();
});

function clientFor(token: string): NodeErpImportClient {
  return createClient({
    baseUrl: stack.baseUrl,
    token,
    retry: { retries: 2, minDelayMs: 10, maxDelayMs: 100 },
  });
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('health, openapi and entities', () => {
  it('GET /healthz', async () => {
    await expect(client.health()).resolves.toEqual({ status: 'ok' });
  });

  it('GET /openapi.json describes every route', async () => {
    const document = await client.openApi();
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        '/imports',
        '/imports/{id}',
        '/imports/{id}/errors',
        '/imports/{id}/cancel',
        '/imports/{id}/retry',
        '/entities',
        '/healthz',
      ]),
    );
  });

  it('GET /entities lists customers with their columns', async () => {
    const entities = await client.entities.list();
    const customers = entities.find((entity) => entity.entity === 'customers');
    expect(customers?.key).toEqual(['customer_id']);
    expect(customers?.columns).toContainEqual(
      expect.objectContaining({
        name: 'customer_id',
        type: 'text',
        length: 10,
        sources: expect.arrayContaining(['customerID']),
      }),
    );
  });

  it('refuses a wrong token with 401 and its problem, without retrying', async () => {
    let attempts = 0;
    const stranger = createClient({
      baseUrl: stack.baseUrl,
      token: 'nobody',
      onRetry: () => (attempts += 1),
    });
    const error = await rejectionOf(stranger.entities.list());
    expect(error).toBeInstanceOf(ErpImportApiError);
    expect(error).toMatchObject({
      status: 401,
      code: 'UNAUTHORIZED',
      title: 'Unauthorized',
    });
    expect(attempts).toBe(0);
  });
});

describe('POST /imports and GET /imports/:id', () => {
  let first: PublicImportRecord;

  it('uploads a file by path, streamed, and waits for the result', async () => {
    const sent: number[] = [];
    const accepted = await client.imports.create({
      entity: 'customers',
      file: northwind,
      onUploadProgress: ({ bytesSent }) => sent.push(bytesSent),
    });
    expect(accepted).toMatchObject({
      entity: 'customers',
      format: 'csv',
      fileName: 'northwind-customers.csv',
      byteSize: 11816,
    });
    expect(accepted.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent.at(-1)).toBe(11816);

    const seen: string[] = [];
    first = await client.imports.wait(accepted.id, {
      intervalMs: 50,
      onProgress: (record) => seen.push(record.state),
    });
    expect(first.state).toBe('completed');
    expect(first.counts).toMatchObject({ read: 91, inserted: 91, rejected: 0 });
    expect(seen.at(-1)).toBe('completed');

    const again = await client.imports.get(accepted.id);
    expect(again).toEqual(first);
  });

  it('answers a repeated idempotency key with the first import', async () => {
    const key = `repeat-${Date.now()}`;
    const one = await client.imports.create({
      entity: 'customers',
      file: northwind,
      idempotencyKey: key,
    });
    const two = await client.imports.create({
      entity: 'customers',
      file: await readFile(northwind),
      idempotencyKey: key,
    });
    expect(two.id).toBe(one.id);
    await client.imports.wait(one.id, { intervalMs: 50 });
  });

  it('sends a Buffer, a Blob, a Node stream and a web stream', async () => {
    const bytes = await readFile(northwind);
    const portable = createPortableClient({
      baseUrl: stack.baseUrl,
      token: 'token-b',
    });
    const uploads = [
      portable.imports.create({ entity: 'customers', file: bytes }),
      portable.imports.create({
        entity: 'customers',
        file: new Blob([bytes]),
        fileName: 'as-blob.csv',
      }),
      portable.imports.create({
        entity: 'customers',
        file: createReadStream(northwind),
      }),
      portable.imports.create({
        entity: 'customers',
        file: new Blob([bytes]).stream(),
      }),
    ];
    for (const accepted of await Promise.all(uploads)) {
      expect(accepted.byteSize).toBe(bytes.byteLength);
      const record = await portable.imports.wait(accepted.id, {
        intervalMs: 50,
      });
      expect(record.state).toBe('completed');
      expect(record.counts.read).toBe(91);
    }
  });

  it('gzips on the fly with Content-Encoding: gzip', async () => {
    const tenantC = clientFor('token-c');
    const accepted = await tenantC.imports.create({
      entity: 'customers',
      file: northwind,
      gzip: true,
    });
    expect(accepted.options.compression).toBe('gzip');
    // The stored bytes are the compressed ones.
    expect(accepted.byteSize).toBeLessThan(11816);
    const record = await tenantC.imports.wait(accepted.id, { intervalMs: 50 });
    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({ read: 91, rejected: 0 });
  });

  it('answers an unknown entity with 422 UNKNOWN_ENTITY', async () => {
    const error = await rejectionOf(
      client.imports.create({ entity: 'planets', file: northwind }),
    );
    expect(error).toMatchObject({
      name: 'ErpImportApiError',
      status: 422,
      code: 'UNKNOWN_ENTITY',
    });
  });

  it('answers an unknown id with 404 NOT_FOUND, and hides other tenants', async () => {
    const missing = await rejectionOf(client.imports.get('no-such-import'));
    expect(missing).toMatchObject({ status: 404, code: 'NOT_FOUND' });

    const theirs = await rejectionOf(
      clientFor('token-b').imports.get(first.id),
    );
    expect(theirs).toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });
});

describe('records without a file', () => {
  it('streams an async generator of objects as CSV', async () => {
    async function* customers() {
      for (let i = 0; i < 2500; i++) {
        yield {
          customerID: `R${i}`,
          companyName: i === 7 ? 'Quote "and", comma' : `Records ${i}`,
          contactName: i % 2 === 0 ? null : `Name ${i}`,
          city: i === 8 ? 'Line\nbreak' : 'Recife',
          postalCode: '00123',
        };
      }
    }
    const accepted = await client.imports.createFromRecords(
      'customers',
      customers(),
      { fileName: 'generated.csv' },
    );
    const record = await client.imports.wait(accepted.id, { intervalMs: 50 });
    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({ read: 2500, inserted: 2500 });

    const rows = await stack.host.pool.query(
      `SELECT customer_id, company_name, contact_name, city, postal_code
         FROM customers
        WHERE tenant_id = 'tenant-a' AND customer_id IN ('R0', 'R7', 'R8')
        ORDER BY customer_id`,
    );
    expect(rows.rows).toEqual([
      {
        customer_id: 'R0',
        company_name: 'Records 0',
        contact_name: null,
        city: 'Recife',
        postal_code: '00123',
      },
      {
        customer_id: 'R7',
        company_name: 'Quote "and", comma',
        contact_name: 'Name 7',
        city: 'Recife',
        postal_code: '00123',
      },
      {
        customer_id: 'R8',
        company_name: 'Records 8',
        contact_name: null,
        city: 'Line\nbreak',
        postal_code: '00123',
      },
    ]);
  });
  it('streams records as NDJSON', async () => {
    function* customers() {
      for (let i = 0; i < 300; i++) {
        yield { customerID: `N${i}`, companyName: `Ndjson ${i}`, fax: null };
      }
    }
    const accepted = await client.imports.createFromRecords(
      'customers',
      customers(),
      { format: 'ndjson', gzip: true },
    );
    expect(accepted.format).toBe('ndjson');
    const record = await client.imports.wait(accepted.id, { intervalMs: 50 });
    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({ read: 300, inserted: 300 });
  });
});

describe('GET /imports', () => {
  it('lists the tenant’s imports, filtered and paged', async () => {
    const page = await client.imports.list({ entity: 'customers', limit: 2 });
    expect(page.items).toHaveLength(2);
    expect(page.nextCursor).not.toBeNull();
    expect(page.items.every((item) => item.tenant === 'tenant-a')).toBe(true);

    const all: PublicImportRecord[] = [];
    for await (const record of client.imports.listAll({ limit: 2 })) {
      all.push(record);
    }
    expect(all.length).toBeGreaterThan(2);
    expect(new Set(all.map((record) => record.id)).size).toBe(all.length);

    const failed = await client.imports.list({ state: 'failed' });
    expect(failed.items.every((item) => item.state === 'failed')).toBe(true);
  });
});

describe('GET /imports/:id/errors', () => {
  let id: string;

  beforeAll(async () => {
    // Customer ids longer than 10 characters do not fit the column.
    const records = Array.from({ length: 250 }, (_, i) => ({
      customerID: i % 2 === 0 ? `E${i}` : `TOO-LONG-ID-${i}`,
      companyName: `Errors ${i}`,
    }));
    const accepted = await client.imports.createFromRecords(
      'customers',
      records,
    );
    const record = await client.imports.wait(accepted.id, { intervalMs: 50 });
    expect(record.counts).toMatchObject({ read: 250, rejected: 125 });
    id = record.id;
  });

  it('pages the rejected rows as JSON', async () => {
    const pages = [];
    for await (const page of client.imports.errors(id, { limit: 50 })) {
      pages.push(page);
    }
    // The 125 rejected rows, and a warning: the records had no field for
    // most of the definition's columns.
    expect(pages.map((page) => page.items.length)).toEqual([50, 50, 26]);

    const rows = [];
    for await (const row of client.imports.errorRows(id)) rows.push(row);
    expect(rows).toHaveLength(126);
    expect(rows[0]).toMatchObject({
      severity: 'warning',
      code: 'column_absent',
      position: { recordNumber: 0, line: 1 },
    });
    expect(rows[1]).toMatchObject({
      severity: 'error',
      column: 'customer_id',
      rawValue: 'TOO-LONG-ID-1',
      position: { recordNumber: 2, line: 3 },
    });
  });

  it('streams them as CSV', async () => {
    const stream = await client.imports.errorsCsv(id);
    const text = await new Response(stream).text();
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(126);
    expect(Object.values(rows[1] ?? {})).toContain('TOO-LONG-ID-1');
  });
});

describe('POST /imports/:id/cancel and /retry', () => {
  it('cancels a queued import, and refuses to cancel it twice', async () => {
    await stack.pauseWorker();
    try {
      const accepted = await client.imports.create({
        entity: 'customers',
        file: northwind,
      });
      const cancelled = await client.imports.cancel(accepted.id);
      expect(cancelled.state).toBe('cancelled');

      const error = await rejectionOf(client.imports.cancel(accepted.id));
      expect(error).toMatchObject({ status: 409, code: 'INVALID_STATE' });
    } finally {
      await stack.resumeWorker();
    }
  });

  it('queues a failed import again', async () => {
    // Bytes that are not UTF-8, declared as UTF-8: the import fails.
    const accepted = await client.imports.create({
      entity: 'customers',
      file: new Uint8Array([0x63, 0x75, 0x73, 0xff, 0xfe, 0x0a, 0xc3]),
      encoding: 'utf-8',
    });
    const failed = await client.imports.wait(accepted.id, { intervalMs: 50 });
    expect(failed.state).toBe('failed');
    expect(failed.failure?.code).toBeTruthy();

    const retried = await client.imports.retry(accepted.id);
    expect(retried.id).toBe(accepted.id);
    expect(retried.state).toBe('queued');
    const again = await client.imports.wait(accepted.id, { intervalMs: 50 });
    expect(again.state).toBe('failed');

    const completed = (await client.imports.list({ state: 'completed' }))
      .items[0];
    const refused = await rejectionOf(client.imports.retry(completed!.id));
    expect(refused).toMatchObject({ status: 409, code: 'INVALID_STATE' });
  });

  it('reverts a completed import', async () => {
    const csv =
      'customerID,companyName,city\n' +
      'REV01,Reverted One,Santos\n' +
      'REV02,Reverted Two,Recife\n';
    const accepted = await client.imports.create({
      entity: 'customers',
      file: Buffer.from(csv),
    });
    const done = await client.imports.wait(accepted.id, { intervalMs: 50 });
    expect(done.counts).toMatchObject({ inserted: 2 });

    const reverted = await client.imports.revert(accepted.id);
    expect(reverted.state).toBe('reverted');
    const rows = await stack.host.pool.query(
      "SELECT count(*)::int AS n FROM customers WHERE customer_id LIKE 'REV%'",
    );
    expect(rows.rows[0].n).toBe(0);

    const again = await rejectionOf(client.imports.revert(accepted.id));
    expect(again).toMatchObject({ status: 409 });
  });

  it('downloads the fix file of rejected records', async () => {
    const csv =
      'customerID;companyName;city\r\n' +
      'FIX01;Fine;Santos\r\n' +
      'FIX02-TOO-LONG-KEY;Broken;Recife\r\n';
    const accepted = await client.imports.create({
      entity: 'customers',
      file: Buffer.from(csv),
    });
    const done = await client.imports.wait(accepted.id, { intervalMs: 50 });
    expect(done.counts).toMatchObject({ inserted: 1, rejected: 1 });

    const stream = await client.imports.fixFile(accepted.id);
    const text = await new Response(stream).text();
    const lines = text.split('\r\n').filter((line) => line !== '');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(
      'customerID;companyName;city;_line;_column;_code;_message',
    );
    expect(lines[1]).toMatch(
      /^FIX02-TOO-LONG-KEY;Broken;Recife;3;customer_id;too_long;/,
    );
  });
});

import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  entityListSchema,
  errorPageSchema,
  importListPageSchema,
  importRecordSchema,
  problemSchema,
} from '../src/contract.js';
import { createImportRouter } from '../src/express.js';
import { ErrorCodes, ImportError } from '../src/errors/import-error.js';
import { sampleImportRecord } from '../src/testing/sample-import-record.js';
import { createFakeImporter, type FakeImporter } from './http-fake-importer.js';

// The router over HTTP, against an importer that loads nothing: statuses,
// authentication, tenant scoping, problem+json, paging and upload limits.

const tokens: Record<string, string> = {
  'token-a': 'tenant-a',
  'token-b': 'tenant-b',
};
const maxUploadBytes = 64 * 1024;

let importer: FakeImporter;
let server: Server;
let base: string;

beforeAll(async () => {
  const app = express();
  app.use(
    '/api',
    createImportRouter(
      {
        // Delegates, so each test can start from a fresh fake.
        get definitions() {
          return importer.definitions;
        },
        enqueue: (request) => importer.enqueue(request),
        get: (tenant, id) => importer.get(tenant, id),
        list: (query) => importer.list(query),
        errors: (tenant, id, query) => importer.errors(tenant, id, query),
        errorsCsv: (tenant, id) => importer.errorsCsv(tenant, id),
        cancel: (tenant, id) => importer.cancel(tenant, id),
        retry: (tenant, id) => importer.retry(tenant, id),
        process: (id) => importer.process(id),
        startWorker: () => importer.startWorker(),
        recoverStale: () => importer.recoverStale(),
        fixFile: (tenant, id) => importer.fixFile(tenant, id),
        revert: (tenant, id) => importer.revert(tenant, id),
        purgeBeforeImages: () => importer.purgeBeforeImages(),
      },
      {
        authenticate: async (token) => {
          const tenant = tokens[token];
          return tenant ? { tenant, subject: `user-of-${tenant}` } : null;
        },
        maxUploadBytes,
      },
    ),
  );
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  importer = createFakeImporter();
});

function call(
  path: string,
  init: RequestInit & { token?: string | null } = {},
): Promise<Response> {
  const { token = 'token-a', ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token !== null) headers.set('authorization', `Bearer ${token}`);
  return fetch(`${base}${path}`, { ...rest, headers });
}

async function expectProblem(
  response: Response,
  status: number,
  code: string,
): Promise<Record<string, unknown>> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(
    /^application\/problem\+json/,
  );
  const body = problemSchema.parse(await response.json());
  expect(body.status).toBe(status);
  expect(body.code).toBe(code);
  return body;
}

function upload(
  body: BodyInit,
  query = 'entity=customers&format=csv',
  headers: Record<string, string> = {},
): Promise<Response> {
  return call(`/imports?${query}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'text/csv', ...headers },
    // Needed by fetch for a streamed body.
    ...(body instanceof ReadableStream && { duplex: 'half' }),
  } as RequestInit);
}

describe('authentication', () => {
  it('answers the health check without a token', async () => {
    const response = await call('/healthz', { token: null });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('refuses a missing token with 401 problem+json', async () => {
    const response = await call('/imports', { token: null });
    await expectProblem(response, 401, ErrorCodes.UNAUTHORIZED);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('refuses an unknown token', async () => {
    const response = await call('/entities', { token: 'nope' });
    await expectProblem(response, 401, ErrorCodes.UNAUTHORIZED);
  });

  it('refuses a token that is not a bearer token', async () => {
    const response = await call('/entities', {
      token: null,
      headers: { authorization: 'Basic dXNlcjpwYXNz' },
    });
    await expectProblem(response, 401, ErrorCodes.UNAUTHORIZED);
  });
});

describe('POST /imports', () => {
  it('stores the body and answers 202 with the record and a Location', async () => {
    const csv = 'customerID;balance\nALFKI;1,50\n';
    const response = await upload(csv, 'entity=customers&fileName=c.csv');
    expect(response.status).toBe(202);

    const record = importRecordSchema.parse(await response.json());
    expect(response.headers.get('location')).toBe(`/api/imports/${record.id}`);
    expect(record).not.toHaveProperty('fileKey');
    expect(record).toMatchObject({
      tenant: 'tenant-a',
      entity: 'customers',
      format: 'csv',
      state: 'queued',
      fileName: 'c.csv',
      submittedBy: 'user-of-tenant-a',
    });
    expect(importer.bodies.get(record.id)?.toString()).toBe(csv);
  });

  it('streams a chunked body of unknown length', async () => {
    const lines = Array.from({ length: 1000 }, (_, i) => `C${i};${i},00\n`);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const line of lines) {
          controller.enqueue(new TextEncoder().encode(line));
        }
        controller.close();
      },
    });
    const response = await upload(stream);
    expect(response.status).toBe(202);
    const { id } = importRecordSchema.parse(await response.json());
    expect(importer.bodies.get(id)?.toString()).toBe(lines.join(''));
  });

  it('passes a gzip body through as stored bytes', async () => {
    const gzipped = gzipSync('customerID\nALFKI\n');
    const response = await upload(new Uint8Array(gzipped), 'entity=customers', {
      'content-encoding': 'gzip',
    });
    expect(response.status).toBe(202);
    const record = importRecordSchema.parse(await response.json());
    expect(record.options.compression).toBe('gzip');
    expect(importer.bodies.get(record.id)?.equals(gzipped)).toBe(true);
  });

  it('answers a repeated Idempotency-Key with 200 and the first import', async () => {
    const headers = { 'idempotency-key': 'upload-1' };
    const first = await upload('customerID\nA\n', 'entity=customers', headers);
    const second = await upload('customerID\nB\n', 'entity=customers', headers);
    expect(first.status).toBe(202);
    expect(second.status).toBe(200);
    const a = importRecordSchema.parse(await first.json());
    const b = importRecordSchema.parse(await second.json());
    expect(b.id).toBe(a.id);
    expect(second.headers.get('location')).toBe(`/api/imports/${a.id}`);
    expect(importer.records.size).toBe(1);
  });

  it('answers an unknown entity with 422', async () => {
    const response = await upload('x\n', 'entity=planets');
    const problem = await expectProblem(
      response,
      422,
      ErrorCodes.UNKNOWN_ENTITY,
    );
    // One line that says which entities would do.
    expect(problem.detail).toBe(
      'unknown entity "planets"; this server takes customers',
    );
  });

  it('answers a missing entity or a bad format with 400 and the issues', async () => {
    const missing = await expectProblem(
      await upload('x\n', 'format=csv'),
      400,
      ErrorCodes.INVALID_REQUEST,
    );
    expect(missing.issues).toEqual([
      expect.objectContaining({ path: ['entity'] }),
    ]);

    const badFormat = await expectProblem(
      await upload('x\n', 'entity=customers&format=xlsx'),
      400,
      ErrorCodes.INVALID_REQUEST,
    );
    expect(badFormat.issues).toEqual([
      expect.objectContaining({ path: ['format'] }),
    ]);
  });

  it('refuses an unknown Content-Encoding', async () => {
    const response = await upload('x\n', 'entity=customers', {
      'content-encoding': 'br',
    });
    await expectProblem(response, 400, ErrorCodes.INVALID_REQUEST);
  });

  it('refuses a body whose declared length exceeds the limit', async () => {
    const response = await upload(
      new Uint8Array(maxUploadBytes + 1),
      'entity=customers',
    );
    const problem = await expectProblem(
      response,
      413,
      ErrorCodes.PAYLOAD_TOO_LARGE,
    );
    expect(problem.maxBytes).toBe(maxUploadBytes);
    expect(importer.records.size).toBe(0);
  });

  it('refuses a streamed body once it passes the limit', async () => {
    const chunk = new Uint8Array(16 * 1024).fill(65);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        // Four times the limit, unless the server stops reading first.
        if (sent >= maxUploadBytes * 4) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const response = await upload(stream, 'entity=customers');
    await expectProblem(response, 413, ErrorCodes.PAYLOAD_TOO_LARGE);
    expect(importer.records.size).toBe(0);
  });
});

describe('reading imports', () => {
  it('returns an import with its progress', async () => {
    const record = sampleImportRecord({
      tenant: 'tenant-a',
      state: 'processing',
    });
    importer.records.set(record.id, record);
    const response = await call(`/imports/${record.id}`);
    expect(response.status).toBe(200);
    const body = importRecordSchema.parse(await response.json());
    expect(body.state).toBe('processing');
    expect(body.progress).toEqual(record.progress);
  });

  it("answers another tenant's import as not found", async () => {
    const record = sampleImportRecord({ tenant: 'tenant-b' });
    importer.records.set(record.id, record);
    await expectProblem(
      await call(`/imports/${record.id}`),
      404,
      ErrorCodes.NOT_FOUND,
    );
    await expectProblem(
      await call(`/imports/${record.id}/errors`),
      404,
      ErrorCodes.NOT_FOUND,
    );
    await expectProblem(
      await call(`/imports/${record.id}/errors?format=csv`),
      404,
      ErrorCodes.NOT_FOUND,
    );
    await expectProblem(
      await call(`/imports/${record.id}/cancel`, { method: 'POST' }),
      404,
      ErrorCodes.NOT_FOUND,
    );
  });

  it("lists the caller's imports with the query validated and coerced", async () => {
    importer.records.set(
      'a',
      sampleImportRecord({ id: 'a', tenant: 'tenant-a' }),
    );
    importer.records.set(
      'b',
      sampleImportRecord({ id: 'b', tenant: 'tenant-b' }),
    );
    const response = await call('/imports?state=queued&limit=10&cursor=xyz');
    expect(response.status).toBe(200);
    const page = importListPageSchema.parse(await response.json());
    expect(page.items.map((item) => item.id)).toEqual(['a']);
    expect(importer.lastListQuery).toEqual({
      tenant: 'tenant-a',
      state: 'queued',
      limit: 10,
      cursor: 'xyz',
    });
  });

  it('ignores a tenant in the query', async () => {
    await call('/imports?tenant=tenant-b');
    expect(importer.lastListQuery).toMatchObject({ tenant: 'tenant-a' });
  });

  it('answers a bad list query with 400', async () => {
    for (const query of ['limit=0', 'limit=501', 'limit=ten', 'state=done']) {
      await expectProblem(
        await call(`/imports?${query}`),
        400,
        ErrorCodes.INVALID_REQUEST,
      );
    }
  });
});

describe('GET /imports/:id/errors', () => {
  let id: string;

  beforeEach(() => {
    const record = sampleImportRecord({
      tenant: 'tenant-a',
      state: 'completed',
    });
    id = record.id;
    importer.records.set(id, record);
    importer.issues = [1, 2, 3].map((seq) => ({
      seq,
      severity: seq === 2 ? 'warning' : 'error',
      position: { recordNumber: seq, line: seq + 1 },
      column: 'balance',
      code: 'invalid_number',
      message: 'not a number',
      rawValue: `x${seq}`,
    }));
  });

  it('pages by afterSeq', async () => {
    const first = errorPageSchema.parse(
      await (await call(`/imports/${id}/errors?limit=2`)).json(),
    );
    expect(first.items.map((item) => item.seq)).toEqual([1, 2]);
    expect(first.nextAfterSeq).toBe(2);

    const second = errorPageSchema.parse(
      await (await call(`/imports/${id}/errors?limit=2&afterSeq=2`)).json(),
    );
    expect(second.items.map((item) => item.seq)).toEqual([3]);
    expect(second.nextAfterSeq).toBeNull();
  });

  it('filters by severity', async () => {
    await call(`/imports/${id}/errors?severity=warning`);
    expect(importer.lastErrorsQuery).toEqual({
      limit: 100,
      severity: 'warning',
    });
  });

  it('streams CSV for format=csv and for Accept: text/csv', async () => {
    for (const response of [
      await call(`/imports/${id}/errors?format=csv`),
      await call(`/imports/${id}/errors`, {
        headers: { accept: 'text/csv' },
      }),
    ]) {
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
      expect(response.headers.get('content-disposition')).toContain(
        `import-${id}-errors.csv`,
      );
      const lines = (await response.text()).trimEnd().split('\n');
      expect(lines).toHaveLength(4);
      expect(lines[1]).toBe('2,balance,invalid_number,not a number,x1');
    }
  });

  it('answers a bad page query with 400', async () => {
    await expectProblem(
      await call(`/imports/${id}/errors?afterSeq=-1`),
      400,
      ErrorCodes.INVALID_REQUEST,
    );
  });
});

describe('cancel and retry', () => {
  it('cancels a queued import', async () => {
    const record = sampleImportRecord({ tenant: 'tenant-a' });
    importer.records.set(record.id, record);
    const response = await call(`/imports/${record.id}/cancel`, {
      method: 'POST',
    });
    expect(response.status).toBe(200);
    expect(importRecordSchema.parse(await response.json()).state).toBe(
      'cancelled',
    );
  });

  it('answers an import in the wrong state with 409', async () => {
    const record = sampleImportRecord({
      tenant: 'tenant-a',
      state: 'completed',
    });
    importer.records.set(record.id, record);
    await expectProblem(
      await call(`/imports/${record.id}/cancel`, { method: 'POST' }),
      409,
      ErrorCodes.INVALID_STATE,
    );
    await expectProblem(
      await call(`/imports/${record.id}/retry`, { method: 'POST' }),
      409,
      ErrorCodes.INVALID_STATE,
    );
  });

  it('queues a failed import again with 202', async () => {
    const record = sampleImportRecord({ tenant: 'tenant-a', state: 'failed' });
    importer.records.set(record.id, record);
    const response = await call(`/imports/${record.id}/retry`, {
      method: 'POST',
    });
    expect(response.status).toBe(202);
    expect(response.headers.get('location')).toBe(`/api/imports/${record.id}`);
  });
});

describe('entities, documents and failures', () => {
  it('lists the entities with their columns', async () => {
    const response = await call('/entities');
    const { items } = entityListSchema.parse(await response.json());
    expect(items).toEqual([
      {
        entity: 'customers',
        description: 'Customers',
        key: ['customer_id'],
        tenantColumn: 'tenant_id',
        columns: [
          {
            name: 'customer_id',
            type: 'text',
            nullable: false,
            sources: ['customer_id', 'customerID'],
          },
          {
            name: 'balance',
            type: 'numeric',
            nullable: true,
            sources: ['balance'],
            precision: 12,
            scale: 2,
          },
        ],
      },
    ]);
  });

  it('serves the OpenAPI document with the mount as its server', async () => {
    const document = (await (await call('/openapi.json')).json()) as {
      openapi: string;
      servers: Array<{ url: string }>;
      paths: Record<string, unknown>;
    };
    expect(document.openapi).toBe('3.1.0');
    expect(document.servers).toEqual([{ url: '/api' }]);
    expect(Object.keys(document.paths)).toContain('/imports/{id}/errors');
  });

  it('answers an internal failure with 500 and no internals', async () => {
    importer.failNext = new Error('password=hunter2 at db.internal:5432');
    const response = await call('/imports');
    const problem = await expectProblem(response, 500, ErrorCodes.INTERNAL);
    expect(JSON.stringify(problem)).not.toContain('hunter2');
  });

  it('maps ImportError codes to their statuses', async () => {
    importer.failNext = new ImportError(ErrorCodes.DATABASE_ERROR, 'boom');
    await expectProblem(await call('/imports'), 500, ErrorCodes.DATABASE_ERROR);
  });

  it('answers a known path with a wrong method with 405', async () => {
    const response = await call('/entities', { method: 'DELETE' });
    await expectProblem(response, 405, ErrorCodes.INVALID_REQUEST);
    expect(response.headers.get('allow')).toBe('GET');
  });
});

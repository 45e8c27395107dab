import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { importRecordSchema } from '@erp-import/core/contract';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  sharedData,
  startExample,
  type RunningExample,
} from './example-harness.js';

// POST /imports takes a form too (a browser's file input, `curl -F
// file=@customers.csv`): its first file part is the import's file, with
// the form's file name; it streams, counts against the upload limit, and
// is the same bytes for the idempotency key as the file sent raw.

const database = useTestDatabase('multipart_upload');
const file = sharedData('northwind-customers.csv');
let example: RunningExample;
let bytes: Uint8Array<ArrayBuffer>;

beforeAll(async () => {
  example = await startExample(
    database.url,
    { kind: 'pg' },
    {
      maxUploadBytes: 64 * 1024,
    },
  );
  bytes = new Uint8Array(await readFile(file));
});
afterAll(async () => {
  await example?.close();
});

function form(parts: Array<[string, Blob | string, string?]>): FormData {
  const data = new FormData();
  for (const [name, value, fileName] of parts) {
    if (typeof value === 'string') data.append(name, value);
    else data.append(name, value, fileName);
  }
  return data;
}

async function post(body: BodyInit, key?: string) {
  return fetch(`${example.baseUrl}/imports?entity=customers&format=csv`, {
    method: 'POST',
    headers: {
      authorization: 'Bearer token-a',
      ...(key !== undefined && { 'idempotency-key': key }),
    },
    body,
  });
}

async function listed(): Promise<number> {
  const response = await fetch(`${example.baseUrl}/imports?limit=100`, {
    headers: { authorization: 'Bearer token-a' },
  });
  return ((await response.json()) as { items: unknown[] }).items.length;
}

describe('a multipart/form-data upload', () => {
  it('imports the form’s file part under its file name', async () => {
    const response = await post(
      form([
        ['note', 'sent from a browser'],
        ['file', new Blob([bytes]), 'customers-export.csv'],
      ]),
    );
    expect(response.status).toBe(202);
    const accepted = importRecordSchema.parse(await response.json());
    expect(accepted.fileName).toBe('customers-export.csv');
    expect(accepted.byteSize).toBe(bytes.length);

    const record = await example.finish(accepted.id);
    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({ read: 91, inserted: 91 });
  });

  it('is the same request as the file sent raw under one key', async () => {
    const raw = await post(bytes, 'same-file');
    expect(raw.status).toBe(202);
    const again = await post(
      form([['file', new Blob([bytes]), 'customers.csv']]),
      'same-file',
    );
    expect(again.status).toBe(200);
    expect((await again.json()).id).toBe((await raw.json()).id);
  });

  it('is refused without a file part', async () => {
    const response = await post(form([['note', 'no file here']]));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      code: 'INVALID_REQUEST',
      detail: expect.stringMatching(/no file part/),
    });
  });

  it('stores nothing of a form cut off mid-file, and serves on', async () => {
    const before = await listed();
    const { port } = new URL(example.baseUrl);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      'POST /imports?entity=customers&format=csv HTTP/1.1\r\n' +
        'Host: 127.0.0.1\r\nAuthorization: Bearer token-a\r\n' +
        'Content-Type: multipart/form-data; boundary=XyZ\r\n' +
        'Content-Length: 50000\r\n\r\n' +
        '--XyZ\r\nContent-Disposition: form-data; name="file"; ' +
        'filename="cut.csv"\r\n\r\ncustomerID,companyName\nA1,One\n',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 300));

    expect(await listed()).toBe(before);
    const next = await post(form([['file', new Blob([bytes]), 'ok.csv']]));
    expect(next.status).toBe(202);
  });

  it('counts the whole form against the upload limit', async () => {
    const large = new Uint8Array(200 * 1024).fill(0x61);
    const response = await post(form([['file', new Blob([large]), 'x.csv']]));
    expect(response.status).toBe(413);
    // The server is still there for the next upload.
    const next = await post(form([['file', new Blob([bytes]), 'ok.csv']]));
    expect(next.status).toBe(202);
  });
});

import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  startExample,
  type RunningExample,
} from '@erp-import/example-express-server/test-harness';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RetryEvent } from '../src/index.js';
import { createClient } from '../src/node.js';
import { customersCsv } from './customers-csv.js';

// The connection breaks in the middle of an upload (a proxy in front of
// the example server cuts it after 100 KB): the client sends the file
// again with the same idempotency key, and exactly one import exists.

const database = useTestDatabase('sdk_client_dropped_upload');
const cutAfterBytes = 100 * 1024;

let stack: RunningExample;
let proxy: CuttingProxy;
let folder: string;

beforeAll(async () => {
  stack = await startExample(database.url);
  proxy = await startCuttingProxy(new URL(stack.baseUrl), cutAfterBytes);
  folder = await mkdtemp(join(tmpdir(), 'sdk-client-dropped-'));
});

afterAll(async () => {
  await proxy?.close();
  await stack?.close();
  if (folder) await rm(folder, { recursive: true, force: true });
});

describe('an upload whose connection drops halfway', () => {
  it('is sent again with the same key and imported once', async () => {
    const path = join(folder, 'customers.csv');
    const text = customersCsv(6000);
    await writeFile(path, text);
    expect(text.length).toBeGreaterThan(cutAfterBytes * 3);

    const retries: RetryEvent[] = [];
    const client = createClient({
      baseUrl: proxy.url,
      token: 'token-a',
      retry: { retries: 3, minDelayMs: 20, maxDelayMs: 200 },
      onRetry: (event) => retries.push(event),
    });
    const accepted = await client.imports.create({
      entity: 'customers',
      file: path,
    });

    // The proxy cut the first upload and let the second through.
    expect(proxy.cuts).toBe(1);
    expect(retries).toHaveLength(1);
    expect(retries[0]?.error).toMatchObject({
      name: 'ErpImportNetworkError',
      code: 'CONNECTION_LOST',
    });
    const keys = proxy.uploads.map((upload) => upload.idempotencyKey);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBeTruthy();
    expect(keys[1]).toBe(keys[0]);
    expect(accepted.idempotencyKey).toBe(keys[0]);

    const record = await client.imports.wait(accepted.id, { intervalMs: 50 });
    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({ read: 6000, inserted: 6000 });
    expect(record.byteSize).toBe(Buffer.byteLength(text));

    // Exactly one import, and every row once.
    const page = await client.imports.list();
    expect(page.items.map((item) => item.id)).toEqual([accepted.id]);
    const rows = await stack.host.pool.query(
      "SELECT count(*)::int AS n FROM customers WHERE tenant_id = 'tenant-a'",
    );
    expect(rows.rows[0].n).toBe(6000);
  });
});

interface CuttingProxy {
  url: string;
  /** Each POST /imports seen, with its Idempotency-Key. */
  uploads: { idempotencyKey: string | undefined }[];
  cuts: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy that destroys the first connection whose upload passes
 * `limit` bytes, on both sides, as a dying network would; the server sees
 * a request that ends mid-body.
 */
async function startCuttingProxy(
  target: URL,
  limit: number,
): Promise<CuttingProxy> {
  const sockets = new Set<Socket>();
  const state: CuttingProxy = {
    url: '',
    uploads: [],
    cuts: 0,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };

  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    let forwarded = 0;
    let pending = '';

    client.on('data', (chunk: Buffer) => {
      // Find each upload's request head, even split across chunks.
      pending += chunk.toString('latin1');
      for (;;) {
        const head = /POST \/imports\?[^\r\n]*\r\n([\s\S]*?)\r\n\r\n/.exec(
          pending,
        );
        if (!head) break;
        const key = /(?:^|\r\n)idempotency-key: *([^\r\n]+)/i.exec(head[1]!);
        state.uploads.push({ idempotencyKey: key?.[1]?.trim() });
        pending = pending.slice(head.index + head[0].length);
      }
      if (pending.length > 16_384) pending = pending.slice(-4096);

      if (state.cuts === 0 && forwarded + chunk.length > limit) {
        state.cuts += 1;
        upstream.write(chunk.subarray(0, limit - forwarded));
        upstream.destroy();
        client.destroy();
        return;
      }
      forwarded += chunk.length;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

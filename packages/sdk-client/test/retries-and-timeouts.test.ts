import { emptyCounts } from '@erp-import/core';
import { once } from 'node:events';
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ErpImportApiError,
  ErpImportNetworkError,
  createClient,
  type ClientOptions,
  type PublicImportRecord,
  type RetryEvent,
} from '../src/index.js';
import { parseRetryAfter } from '../src/retry-policy.js';

// The client's retries, timeouts and cancellation, against a tiny HTTP
// server that answers what each test scripts.

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

type Script = (
  request: Received,
  response: ServerResponse,
  index: number,
) => void;

interface ScriptedServer {
  url: string;
  received: Received[];
}

const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  }
});

/** A server that reads each request whole, then runs `script`. */
async function scriptedServer(script: Script): Promise<ScriptedServer> {
  const received: Received[] = [];
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const entry = {
      method: request.method ?? '',
      url: request.url ?? '',
      headers: request.headers,
      body: Buffer.concat(chunks),
    };
    received.push(entry);
    script(entry, response, received.length - 1);
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received };
}

function json(response: ServerResponse, status: number, body: unknown) {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

function problem(
  response: ServerResponse,
  status: number,
  code: string,
  headers: Record<string, string> = {},
) {
  response.writeHead(status, {
    'content-type': 'application/problem+json',
    ...headers,
  });
  response.end(
    JSON.stringify({
      type: `urn:erp-import:problem:${code.toLowerCase()}`,
      title: `Status ${status}`,
      status,
      code,
      detail: `scripted ${code}`,
    }),
  );
}

function clientOf(
  url: string,
  options: Partial<ClientOptions> = {},
  retries: RetryEvent[] = [],
) {
  return createClient({
    baseUrl: url,
    token: 'secret',
    retry: { retries: 3, minDelayMs: 5, maxDelayMs: 50 },
    onRetry: (event) => retries.push(event),
    ...options,
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

const record: PublicImportRecord = {
  id: 'imp-1',
  tenant: 't',
  entity: 'customers',
  format: 'csv',
  state: 'queued',
  fileName: null,
  submittedBy: null,
  idempotencyKey: 'k',
  byteSize: 0,
  checksum: 'sha256:0',
  options: {},
  detected: {},
  counts: emptyCounts(),

  progress: {
    bytesRead: 0,
    bytesTotal: null,
    recordsRead: 0,
    recordsRejected: 0,
    phase: 'waiting',
    updatedAt: '2024-01-01T00:00:00.000Z',
  },
  failure: null,
  attempts: 0,
  createdAt: '2024-01-01T00:00:00.000Z',
  startedAt: null,
  finishedAt: null,
};

describe('retries', () => {
  it('retries a 503 and answers the 200 that follows', async () => {
    const server = await scriptedServer((_request, response, index) => {
      if (index === 0) problem(response, 503, 'UNAVAILABLE');
      else json(response, 200, { status: 'ok' });
    });
    const retries: RetryEvent[] = [];
    const health = await clientOf(server.url, {}, retries).health();

    expect(health).toEqual({ status: 'ok' });
    expect(server.received).toHaveLength(2);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ attempt: 2, error: { status: 503 } });
  });

  it('waits as long as a 429 Retry-After in seconds says', async () => {
    const server = await scriptedServer((_request, response, index) => {
      if (index === 0) {
        problem(response, 429, 'TOO_MANY', { 'retry-after': '1' });
      } else json(response, 200, { status: 'ok' });
    });
    const retries: RetryEvent[] = [];
    await clientOf(
      server.url,
      { retry: { retries: 2, minDelayMs: 5, maxDelayMs: 5000 } },
      retries,
    ).health();

    expect(server.received).toHaveLength(2);
    expect(retries.map((event) => event.delayMs)).toEqual([1000]);
  });

  it('reads Retry-After as an HTTP date too', () => {
    const now = Date.parse('2024-05-01T12:00:00Z');
    expect(parseRetryAfter('Wed, 01 May 2024 12:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Wed, 01 May 2024 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(' 3 ', now)).toBe(3000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('gives up when Retry-After asks for more than maxDelayMs', async () => {
    const server = await scriptedServer((_request, response) => {
      problem(response, 429, 'TOO_MANY', { 'retry-after': '3600' });
    });
    const error = await rejectionOf(clientOf(server.url).health());

    expect(error).toBeInstanceOf(ErpImportApiError);
    expect(error).toMatchObject({
      status: 429,
      code: 'TOO_MANY',
      retryAfterMs: 3_600_000,
    });
    expect(server.received).toHaveLength(1);
  });

  it('stops after `retries` attempts and keeps a non-JSON answer', async () => {
    const server = await scriptedServer((_request, response) => {
      response.writeHead(502, { 'content-type': 'text/html' });
      response.end('<h1>Bad gateway</h1>');
    });
    const error = await rejectionOf(
      clientOf(server.url, {
        retry: { retries: 2, minDelayMs: 1, maxDelayMs: 5 },
      }).imports.get('x'),
    );

    expect(server.received).toHaveLength(3);
    expect(error).toMatchObject({
      name: 'ErpImportApiError',
      status: 502,
      code: 'HTTP_502',
      detail: '<h1>Bad gateway</h1>',
    });
  });

  it('does not retry a 4xx, and carries its problem', async () => {
    const server = await scriptedServer((_request, response) => {
      problem(response, 400, 'INVALID_REQUEST');
    });
    const error = await rejectionOf(clientOf(server.url).imports.list());

    expect(server.received).toHaveLength(1);
    expect(error).toMatchObject({
      status: 400,
      code: 'INVALID_REQUEST',
      title: 'Status 400',
      detail: 'scripted INVALID_REQUEST',
      problem: { type: 'urn:erp-import:problem:invalid_request' },
    });
  });

  it('does not retry a 500 on cancel, which must not run twice', async () => {
    const server = await scriptedServer((_request, response) => {
      problem(response, 500, 'INTERNAL');
    });
    const error = await rejectionOf(clientOf(server.url).imports.cancel('x'));

    expect(error).toMatchObject({ status: 500 });
    expect(server.received).toHaveLength(1);
  });

  it('refuses an answer that breaks the contract', async () => {
    const server = await scriptedServer((_request, response) => {
      json(response, 200, { id: 'imp-1', state: 'sleeping' });
    });
    const error = await rejectionOf(clientOf(server.url).imports.get('imp-1'));

    expect(error).toMatchObject({ status: 200, code: 'INVALID_RESPONSE' });
    expect(server.received).toHaveLength(1);
  });

  it('reports an unreachable server after its retries', async () => {
    const server = await scriptedServer(() => undefined);
    const closed = servers.pop()!;
    closed.close();
    await once(closed, 'close');

    const retries: RetryEvent[] = [];
    const error = await rejectionOf(
      clientOf(
        server.url,
        { retry: { retries: 2, minDelayMs: 1, maxDelayMs: 5 } },
        retries,
      ).health(),
    );
    expect(error).toBeInstanceOf(ErpImportNetworkError);
    expect(error).toMatchObject({ code: 'UNREACHABLE' });
    expect(retries).toHaveLength(2);
  });
});

describe('uploads and retries', () => {
  it('sends the same key and the same bytes again after a 503', async () => {
    const server = await scriptedServer((_request, response, index) => {
      if (index === 0) problem(response, 503, 'UNAVAILABLE');
      else json(response, 202, record);
    });
    const bytes = new TextEncoder().encode('a,b\n1,2\n'.repeat(20_000));
    const progress: number[] = [];
    await clientOf(server.url).imports.create({
      entity: 'customers',
      file: bytes,
      onUploadProgress: ({ bytesSent }) => progress.push(bytesSent),
    });

    const [first, second] = server.received;
    expect(server.received).toHaveLength(2);
    expect(first?.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    expect(second?.headers['idempotency-key']).toBe(
      first?.headers['idempotency-key'],
    );
    expect(second?.body.equals(Buffer.from(bytes))).toBe(true);
    expect(first?.body.equals(Buffer.from(bytes))).toBe(true);
    expect(second?.headers['content-length']).toBe(String(bytes.byteLength));
    // Progress went to the end twice: once per attempt.
    expect(progress.filter((sent) => sent === bytes.byteLength)).toHaveLength(
      2,
    );
  });

  it('does not send a one-shot stream again once it was read', async () => {
    const server = await scriptedServer((_request, response) => {
      problem(response, 503, 'UNAVAILABLE');
    });
    async function* chunks() {
      yield new TextEncoder().encode('a,b\n');
      yield new TextEncoder().encode('1,2\n');
    }
    const error = await rejectionOf(
      clientOf(server.url).imports.create({ entity: 'e', file: chunks() }),
    );

    expect(error).toMatchObject({ status: 503 });
    expect(server.received).toHaveLength(1);
    expect(server.received[0]?.body.toString()).toBe('a,b\n1,2\n');
  });

  it('sends the query the contract names', async () => {
    const server = await scriptedServer((_request, response) => {
      json(response, 202, record);
    });
    await clientOf(server.url).imports.create({
      entity: 'customers',
      file: new Blob(['x']),
      fileName: 'Clientes março.csv',
      encoding: 'windows-1252',
      delimiter: ';',
      idempotencyKey: 'my-key',
    });
    const [request] = server.received;
    const url = new URL(request!.url, 'http://x');
    expect(url.pathname).toBe('/imports');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      entity: 'customers',
      format: 'csv',
      fileName: 'Clientes março.csv',
      encoding: 'windows-1252',
      delimiter: ';',
    });
    expect(request?.headers).toMatchObject({
      authorization: 'Bearer secret',
      'idempotency-key': 'my-key',
      'content-type': 'application/octet-stream',
    });
  });
});

describe('timeouts and cancellation', () => {
  it('times out an attempt that gets no answer, and retries it', async () => {
    const server = await scriptedServer(() => undefined);
    const retries: RetryEvent[] = [];
    const error = await rejectionOf(
      clientOf(
        server.url,
        {
          timeoutMs: 100,
          retry: { retries: 1, minDelayMs: 1, maxDelayMs: 5 },
        },
        retries,
      ).health(),
    );

    expect(error).toBeInstanceOf(ErpImportNetworkError);
    expect(error).toMatchObject({ code: 'TIMEOUT' });
    expect(server.received).toHaveLength(2);
    expect(retries[0]?.error).toMatchObject({ code: 'TIMEOUT' });
  });

  it('aborts a request in flight through its signal, without retrying', async () => {
    const controller = new AbortController();
    const server = await scriptedServer(() => {
      controller.abort();
    });
    const retries: RetryEvent[] = [];
    const error = await rejectionOf(
      clientOf(server.url, {}, retries).imports.get('x', {
        signal: controller.signal,
      }),
    );

    expect(error).toMatchObject({ name: 'AbortError' });
    expect(server.received).toHaveLength(1);
    expect(retries).toHaveLength(0);
  });

  it('aborts the wait between two retries', async () => {
    const controller = new AbortController();
    const server = await scriptedServer((_request, response) => {
      problem(response, 503, 'UNAVAILABLE');
    });
    const error = await rejectionOf(
      clientOf(server.url, {
        retry: { retries: 5, minDelayMs: 60_000, maxDelayMs: 60_000 },
        onRetry: () => controller.abort(),
      }).health({ signal: controller.signal }),
    );

    expect(error).toMatchObject({ name: 'AbortError' });
    expect(server.received).toHaveLength(1);
  });

  it('stops waiting for an import when aborted', async () => {
    const controller = new AbortController();
    const server = await scriptedServer((_request, response, index) => {
      if (index === 2) controller.abort();
      json(response, 200, { ...record, state: 'processing' });
    });
    const seen: string[] = [];
    const error = await rejectionOf(
      clientOf(server.url).imports.wait('imp-1', {
        intervalMs: 5,
        signal: controller.signal,
        onProgress: (current) => seen.push(current.state),
      }),
    );

    expect(error).toMatchObject({ name: 'AbortError' });
    expect(seen.length).toBeGreaterThanOrEqual(2);
  });
});

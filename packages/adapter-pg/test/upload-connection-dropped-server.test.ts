import { createTestPool } from '@erp-import/dev-services/engine-harness';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  createImporter,
  createLocalFileStore,
  createMemoryFileStore,
  type FileStore,
  type ImportDefinitionInput,
  type Logger,
} from '@erp-import/core';
import { createImportRouter } from '@erp-import/core/express';
import { waitFor } from '@erp-import/core/testing';
import express from 'express';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPgAdapters,
  createPgFileStore,
  type PgAdapters,
} from '../src/index.js';

// Uploads that break on the wire, sent byte by byte over raw sockets to
// the real router, engine and stores: a client that goes away mid-body
// (with and without Content-Length, gzip or not), one that stalls until
// the server's request timeout, bodies over small limits, a store that
// fails mid-upload. Once, the upload stream's 'error' had no listener
// and killed the server. Each must end in an answer (413, 400, 500) or a
// logged abort, store nothing, and leave the server answering.

const customers = {
  entity: 'customers',
  table: 'customers',
  key: ['customer_id'],
  tenantColumn: 'tenant_id',
  columns: [{ name: 'customer_id', type: 'text', source: 'customerID' }],
} satisfies ImportDefinitionInput;

// The example host's default limit.
const defaultMaxUploadBytes = 2 * 1024 * 1024 * 1024;
const abortMessage = 'the upload ended before its last byte';

const database = useTestDatabase('upload_dropped_server');
let pool: pg.Pool;
let adapters: PgAdapters;
let folder: string;

beforeAll(async () => {
  pool = createTestPool(database.url, 8);
  adapters = await createPgAdapters({ pool });
  folder = await mkdtemp(path.join(tmpdir(), 'upload-dropped-'));
});

afterAll(async () => {
  await adapters?.close();
  await pool?.end();
  if (folder) await rm(folder, { recursive: true, force: true });
});

/** A file store, and how many files it holds (finished or not). */
interface StoreUnderTest {
  fileStore: FileStore;
  storedFiles(): Promise<number>;
}

const stores: { name: string; open(): Promise<StoreUnderTest> }[] = [
  {
    name: 'PostgreSQL',
    async open() {
      return {
        // Small rows, so that an upload spans several.
        fileStore: createPgFileStore({ pool, chunkBytes: 16 * 1024 }),
        storedFiles: async () => {
          const { rows } = await pool.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM erp_import.files',
          );
          return rows[0]!.n;
        },
      };
    },
  },
  {
    name: 'local directory',
    async open() {
      const directory = await mkdtemp(path.join(folder, 'store-'));
      return {
        fileStore: createLocalFileStore({ directory }),
        // Every file below it, the temporary ones in .partial included.
        storedFiles: async () => {
          const entries = await readdir(directory, {
            recursive: true,
            withFileTypes: true,
          });
          return entries.filter((entry) => entry.isFile()).length;
        },
      };
    },
  },
  {
    name: 'memory',
    async open() {
      // The memory store cannot list its keys: the ones a put stored and
      // no delete removed are counted on the way.
      const memory = createMemoryFileStore();
      const keys = new Set<string>();
      return {
        fileStore: {
          ...memory,
          async put(key, body, options) {
            const stored = await memory.put(key, body, options);
            keys.add(key);
            return stored;
          },
          async delete(key) {
            await memory.delete(key);
            keys.delete(key);
          },
        },
        storedFiles: async () => keys.size,
      };
    },
  },
];

interface LogLine {
  level: string;
  message: string;
  [field: string]: unknown;
}

interface TestServer {
  port: number;
  logs: LogLine[];
  close(): Promise<void>;
}

/** The router on a free port, with a request timeout short enough to test. */
async function startServer(
  fileStore: FileStore,
  maxUploadBytes: number,
): Promise<TestServer> {
  const logs: LogLine[] = [];
  const importer = createImporter({
    definitions: [customers],
    database: pool,
    queue: adapters.queue,
    statusStore: adapters.statusStore,
    errorLog: adapters.errorLog,
    fileStore,
    maxUploadBytes,
  });
  const app = express();
  app.use(
    createImportRouter(importer, {
      authenticate: (token) => (token === 't0k3n' ? { tenant: 'acme' } : null),
      maxUploadBytes,
      logger: collectingLogger(logs),
    }),
  );
  const server: Server = createServer(
    { requestTimeout: 1000, connectionsCheckingInterval: 100 },
    app,
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    logs,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

function collectingLogger(lines: LogLine[]): Logger {
  const at =
    (level: string) =>
    (first: Record<string, unknown> | string, message?: string) => {
      lines.push(
        typeof first === 'string'
          ? { level, message: first }
          : { ...first, level, message: message ?? '' },
      );
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

interface RawAnswer {
  /** The status of the answer, when one came before the connection closed. */
  status: number | undefined;
  body: string;
}

/**
 * Sends the head of `POST /imports?entity=customers` on a socket of its
 * own, then lets `send` write (or not) the body and close (or not). Ends
 * with the server's whole answer, or when the connection closes.
 */
async function rawUpload(
  server: TestServer,
  headers: Record<string, string>,
  send: (socket: Socket) => void | Promise<void>,
): Promise<RawAnswer> {
  const socket = connect(server.port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');

  const answer = new Promise<RawAnswer>((resolve) => {
    let received = Buffer.alloc(0);
    const settle = () => {
      const text = received.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      resolve({
        status: status === undefined ? undefined : Number(status),
        body: end < 0 ? '' : text.slice(end + 4),
      });
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const text = received.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(text)?.[1];
      if (end >= 0 && length && received.length >= end + 4 + Number(length)) {
        settle();
        socket.destroy();
      }
    });
    socket.on('close', settle);
  });

  const head = {
    host: '127.0.0.1',
    authorization: 'Bearer t0k3n',
    'content-type': 'text/csv',
    ...headers,
  };
  socket.write(
    'POST /imports?entity=customers&format=csv HTTP/1.1\r\n' +
      Object.entries(head)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('') +
      '\r\n',
  );
  await send(socket);
  return answer;
}

function chunk(bytes: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`${bytes.length.toString(16)}\r\n`),
    bytes,
    Buffer.from('\r\n'),
  ]);
}

/**
 * Writes `total` bytes as 8 KB chunks as fast as the socket takes them,
 * then the last chunk, unless the server answered or closed first.
 */
async function pumpChunked(socket: Socket, body: Buffer): Promise<void> {
  for (let at = 0; at < body.length && !socket.destroyed; at += 8192) {
    const piece = chunk(body.subarray(at, at + 8192));
    if (!socket.write(piece)) {
      await Promise.race([once(socket, 'drain'), once(socket, 'close')]);
    }
  }
  if (!socket.destroyed) socket.write('0\r\n\r\n');
}

/** Bytes gzip cannot shrink, so that the compressed body is large too. */
function noise(size: number): Buffer {
  return Buffer.from(randomBytes(size).toString('base64').slice(0, size));
}

async function importCount(): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM erp_import.imports',
  );
  return rows[0]!.n;
}

/** The same server takes the next upload and the health check. */
async function expectServerAnswers(server: TestServer): Promise<void> {
  const base = `http://127.0.0.1:${server.port}`;
  const upload = await fetch(`${base}/imports?entity=customers`, {
    method: 'POST',
    headers: { authorization: 'Bearer t0k3n', 'content-type': 'text/csv' },
    body: 'customerID\nALFKI\n',
  });
  expect(upload.status).toBe(202);
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
}

function abortLogged(server: TestServer): Promise<LogLine> {
  return waitFor(
    () => server.logs.find((line) => line.message === abortMessage),
    { description: 'the abort in the log' },
  );
}

describe.each(stores)('uploads cut short, $name file store', (variant) => {
  let store: StoreUnderTest;
  let server: TestServer;
  let before: { files: number; imports: number };

  beforeAll(async () => {
    store = await variant.open();
    server = await startServer(store.fileStore, defaultMaxUploadBytes);
  });

  afterAll(async () => {
    await server?.close();
  });

  async function snapshot(): Promise<void> {
    server.logs.length = 0;
    before = { files: await store.storedFiles(), imports: await importCount() };
  }

  async function expectNothingStored(): Promise<void> {
    // The 413 may reach the client while the store still removes the
    // partial file it began (the local directory's unlink): what counts
    // is that it goes, so the count is given a moment to settle.
    await waitFor(async () => (await store.storedFiles()) === before.files, {
      timeoutMs: 5_000,
      description: 'the partial file to be removed',
    }).catch(() => undefined);
    expect(await store.storedFiles()).toBe(before.files);
    expect(await importCount()).toBe(before.imports);
  }

  it('logs a body cut after 100 of its declared 500000 bytes, stores nothing', async () => {
    await snapshot();
    const answer = await rawUpload(
      server,
      { 'content-length': '500000' },
      (socket) => {
        socket.write(Buffer.alloc(100, 'a'));
        socket.destroy();
      },
    );
    expect(answer.status).toBeUndefined();

    const line = await abortLogged(server);
    expect(line).toMatchObject({ level: 'info', method: 'POST' });
    expect(server.logs.filter((log) => log.level === 'error')).toEqual([]);
    await expectNothingStored();
    await expectServerAnswers(server);
  });

  it('logs a chunked body cut mid-way, stores nothing', async () => {
    await snapshot();
    await rawUpload(server, { 'transfer-encoding': 'chunked' }, (socket) => {
      socket.write(chunk(Buffer.from('customerID\nALFKI\n')));
      socket.write(chunk(Buffer.alloc(5000, 'b')));
      socket.destroy();
    });

    await abortLogged(server);
    await expectNothingStored();
    await expectServerAnswers(server);
  });

  it('logs a gzip body cut mid-way, stores nothing', async () => {
    await snapshot();
    const gzipped = gzipSync(noise(50_000));
    await rawUpload(
      server,
      { 'transfer-encoding': 'chunked', 'content-encoding': 'gzip' },
      (socket) => {
        socket.write(chunk(gzipped.subarray(0, gzipped.length / 2)));
        socket.destroy();
      },
    );

    await abortLogged(server);
    await expectNothingStored();
    await expectServerAnswers(server);
  });

  it('logs a client that stalls mid-body until the request timeout, stores nothing', async () => {
    await snapshot();
    // The socket stays open and silent; the server's request timeout
    // (1 s here) is what ends it.
    await rawUpload(server, { 'content-length': '500000' }, (socket) => {
      socket.write(Buffer.alloc(1000, 'c'));
    });

    await abortLogged(server);
    await expectNothingStored();
    await expectServerAnswers(server);
  });

  it('logs a replay of a known idempotency key cut mid-body', async () => {
    const first = await fetch(
      `http://127.0.0.1:${server.port}/imports?entity=customers`,
      {
        method: 'POST',
        headers: {
          authorization: 'Bearer t0k3n',
          'idempotency-key': `replay-${variant.name}`,
        },
        body: 'customerID\nALFKI\n',
      },
    );
    expect(first.status).toBe(202);
    await snapshot();

    await rawUpload(
      server,
      {
        'content-length': '500000',
        'idempotency-key': `replay-${variant.name}`,
      },
      (socket) => {
        socket.write('customerID\n');
        socket.destroy();
      },
    );

    await abortLogged(server);
    await expectNothingStored();
    await expectServerAnswers(server);
  });

  it.each([5000, 20_000, 100_000])(
    'answers 413 to a chunked body over a limit of %i bytes, stores nothing',
    async (limit) => {
      const limited = await startServer(store.fileStore, limit);
      try {
        before = {
          files: await store.storedFiles(),
          imports: await importCount(),
        };
        const answer = await rawUpload(
          limited,
          { 'transfer-encoding': 'chunked' },
          (socket) => pumpChunked(socket, Buffer.alloc(400_000, 'd')),
        );

        expect(answer.status).toBe(413);
        expect(JSON.parse(answer.body)).toMatchObject({
          code: 'PAYLOAD_TOO_LARGE',
          maxBytes: limit,
        });
        await expectNothingStored();
        await expectServerAnswers(limited);
      } finally {
        await limited.close();
      }
    },
  );

  it('answers 413 to a gzip body over the limit, stores nothing', async () => {
    const limited = await startServer(store.fileStore, 20_000);
    try {
      before = {
        files: await store.storedFiles(),
        imports: await importCount(),
      };
      const answer = await rawUpload(
        limited,
        { 'transfer-encoding': 'chunked', 'content-encoding': 'gzip' },
        (socket) => pumpChunked(socket, gzipSync(noise(300_000))),
      );

      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.body)).toMatchObject({
        code: 'PAYLOAD_TOO_LARGE',
      });
      await expectNothingStored();
      await expectServerAnswers(limited);
    } finally {
      await limited.close();
    }
  });

  it('answers 413 to a declared length over the limit while the body is still sent', async () => {
    const limited = await startServer(store.fileStore, 5000);
    try {
      before = {
        files: await store.storedFiles(),
        imports: await importCount(),
      };
      const body = Buffer.alloc(300_000, 'e');
      const answer = await rawUpload(
        limited,
        { 'content-length': String(body.length) },
        async (socket) => {
          for (let at = 0; at < body.length && !socket.destroyed; at += 8192) {
            if (!socket.write(body.subarray(at, at + 8192))) {
              await Promise.race([
                once(socket, 'drain'),
                once(socket, 'close'),
              ]);
            }
          }
        },
      );

      expect(answer.status).toBe(413);
      await expectNothingStored();
      await expectServerAnswers(limited);
    } finally {
      await limited.close();
    }
  });
});

describe('a file store that fails mid-upload', () => {
  it('PostgreSQL: answers 500, keeps no partial file, and goes on serving', async () => {
    const store = await stores[0]!.open();
    const server = await startServer(store.fileStore, defaultMaxUploadBytes);
    // A real refusal from the server from the third row on, as a full
    // disk or a lost tablespace would give.
    await pool.query(`
      CREATE FUNCTION refuse_third_chunk() RETURNS trigger AS $$
      BEGIN
        IF NEW.chunk >= 2 THEN
          RAISE EXCEPTION 'could not extend file: No space left on device';
        END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql;
      CREATE TRIGGER refuse_third_chunk BEFORE INSERT ON erp_import.file_chunks
        FOR EACH ROW EXECUTE FUNCTION refuse_third_chunk();`);
    try {
      const files = await store.storedFiles();
      const imports = await importCount();
      const answer = await rawUpload(
        server,
        { 'transfer-encoding': 'chunked' },
        (socket) => pumpChunked(socket, Buffer.alloc(200_000, 'f')),
      );

      expect(answer.status).toBe(500);
      expect(JSON.parse(answer.body)).toMatchObject({ status: 500 });
      expect(await store.storedFiles()).toBe(files);
      expect(await importCount()).toBe(imports);
    } finally {
      await pool.query(`
        DROP TRIGGER refuse_third_chunk ON erp_import.file_chunks;
        DROP FUNCTION refuse_third_chunk();`);
    }
    try {
      await expectServerAnswers(server);
    } finally {
      await server.close();
    }
  });

  it('local directory: answers 500 when its folder cannot be made, and goes on serving', async () => {
    const directory = await mkdtemp(path.join(folder, 'broken-'));
    // The temporary folder's name taken by a file: put fails before it
    // reads a byte, while the client is still sending.
    await writeFile(path.join(directory, '.partial'), 'in the way');
    const server = await startServer(
      createLocalFileStore({ directory }),
      defaultMaxUploadBytes,
    );
    try {
      const answer = await rawUpload(
        server,
        { 'transfer-encoding': 'chunked' },
        (socket) => pumpChunked(socket, Buffer.alloc(200_000, 'g')),
      );
      expect(answer.status).toBe(500);

      await rm(path.join(directory, '.partial'));
      await expectServerAnswers(server);
    } finally {
      await server.close();
    }
  });
});

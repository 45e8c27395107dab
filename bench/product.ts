import { createPgAdapters, type PgAdapters } from '@erp-import/adapter-pg';
import { workerProcessSettings } from '@erp-import/dev-services';
import { createImporter } from '@erp-import/core';
import type { PublicImportRecord } from '@erp-import/core/contract';
import { createImportRouter } from '@erp-import/core/express';
import express from 'express';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { build } from 'tsup';
import { benchCustomers } from './bench-definition.js';
import type {
  FromBenchWorker,
  ImportTimings,
  ToBenchWorker,
} from './bench-worker.js';
import type { DataFormat } from './customers-data.js';

/**
 * The product as a host runs it: the example server's stack
 * (createImporter + createPgAdapters + createImportRouter) in this
 * process, and a worker in a child process of its own.
 */

const token = 'bench-token';
export const productTenant = 'bench';

export interface ProductStack {
  baseUrl: string;
  worker: BenchWorker;
  close(): Promise<void>;
}

export interface ProductRun {
  totalMs: number;
  uploadMs: number;
  /** From the upload's end until the worker claimed the import. */
  waitMs: number;
  timings: ImportTimings;
  peakRssBytes: number;
  /** CPU time of the worker process, all its threads. */
  workerCpuMs: number;
  record: PublicImportRecord;
}

export async function startProductStack(
  databaseUrl: string,
  options: { parseThread: boolean; workerCode: 'dist' | 'source' },
): Promise<ProductStack> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  let adapters: PgAdapters | undefined;
  let server: Server | undefined;
  let worker: BenchWorker | undefined;
  const close = async () => {
    await worker?.stop();
    server?.closeAllConnections();
    server?.close();
    await adapters?.close();
    await pool.end();
  };

  try {
    adapters = await createPgAdapters({ pool });
    const importer = createImporter({
      definitions: [benchCustomers],
      database: pool,
      queue: adapters.queue,
      statusStore: adapters.statusStore,
      errorLog: adapters.errorLog,
      fileStore: adapters.fileStore,
    });
    const app = express();
    app.use(
      createImportRouter(importer, {
        authenticate: async (given) =>
          given === token ? { tenant: productTenant } : null,
      }),
    );
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;

    worker = await startBenchWorker(databaseUrl, options);
    return { baseUrl: `http://127.0.0.1:${port}`, worker, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Uploads `file` and waits until its import completes. */
export async function runProductImport(
  stack: ProductStack,
  file: string,
  format: DataFormat,
): Promise<ProductRun> {
  await stack.worker.resetPeak();
  const started = performance.now();

  const query = new URLSearchParams({ entity: benchCustomers.entity, format });
  const response = await fetch(`${stack.baseUrl}/imports?${query}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/octet-stream',
    },
    body: Readable.toWeb(createReadStream(file)) as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  if (response.status !== 202) {
    throw new Error(`upload: ${response.status} ${await response.text()}`);
  }
  const accepted = (await response.json()) as PublicImportRecord;
  const uploaded = performance.now();
  const uploadedAt = Date.now();
  const finished = stack.worker.timingsOf(accepted.id);

  let record: PublicImportRecord;
  for (;;) {
    const polled = await fetch(`${stack.baseUrl}/imports/${accepted.id}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    record = (await polled.json()) as PublicImportRecord;
    if (record.state === 'completed') break;
    if (record.state === 'failed' || record.state === 'cancelled') {
      throw new Error(
        `import ${record.state}: ${JSON.stringify(record.failure)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const done = performance.now();

  const claimedAt = record.startedAt
    ? Date.parse(record.startedAt)
    : uploadedAt;
  return {
    totalMs: done - started,
    uploadMs: uploaded - started,
    waitMs: Math.max(0, claimedAt - uploadedAt),
    timings: await finished,
    ...(await stack.worker.peak()),
    record,
  };
}

/** The bench's worker script as JavaScript; the packages stay external. */
async function buildBenchWorker(): Promise<string> {
  const outDir = fileURLToPath(new URL('./dist/', import.meta.url));
  await build({
    entry: {
      'bench-worker': fileURLToPath(
        new URL('./bench-worker.ts', import.meta.url),
      ),
    },
    outDir,
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    config: false,
    silent: true,
    dts: false,
    clean: false,
    external: ['@erp-import/core', '@erp-import/adapter-pg', 'pg'],
  });
  return join(outDir, 'bench-worker.js');
}

export interface BenchWorker {
  /** Resident memory once started, before any import. */
  restRssBytes: number;
  resetPeak(): Promise<void>;
  peak(): Promise<{ peakRssBytes: number; workerCpuMs: number }>;
  timingsOf(importId: string): Promise<ImportTimings>;
  stop(): Promise<void>;
}

async function startBenchWorker(
  databaseUrl: string,
  options: { parseThread: boolean; workerCode: 'dist' | 'source' },
): Promise<BenchWorker> {
  const { parseThread, workerCode } = options;
  // From dist, the worker runs on plain Node as a host deploys it: its
  // own script is built too, since tsx would weigh some 35 MB of its own.
  const script =
    workerCode === 'dist'
      ? await buildBenchWorker()
      : fileURLToPath(new URL('./bench-worker.ts', import.meta.url));
  const child: ChildProcess = fork(script, [], {
    execArgv: [
      ...(workerCode === 'source'
        ? ['--import', 'tsx', '--conditions=source']
        : []),
      // What the README recommends for workers ("Worker memory").
      ...workerProcessSettings.execArgv,
      ...(process.env.BENCH_WORKER_NODE_OPTIONS?.split(' ').filter(Boolean) ??
        []),
    ],
    env: {
      ...workerProcessSettings.env,
      ...process.env,
      DATABASE_URL: databaseUrl,
      BENCH_PARSE_THREAD: parseThread ? 'auto' : 'never',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });

  const waiting = new Map<string, Array<(message: FromBenchWorker) => void>>();
  const timings = new Map<string, ImportTimings>();
  const timingWaiters = new Map<string, (timings: ImportTimings) => void>();
  let exited = false;
  child.on('message', (message: FromBenchWorker) => {
    if (message.kind === 'finished') {
      const waiter = timingWaiters.get(message.importId);
      if (waiter) waiter(message.timings);
      else timings.set(message.importId, message.timings);
      return;
    }
    waiting.get(message.kind)?.shift()?.(message);
  });
  child.once('exit', () => {
    exited = true;
    for (const list of waiting.values()) {
      for (const resolve of list.splice(0)) {
        resolve({ kind: 'ready', rssBytes: 0 });
      }
    }
  });

  // The next message of a kind; a dead worker answers nothing useful.
  const expect = (kind: FromBenchWorker['kind']) =>
    new Promise<FromBenchWorker>((resolve) => {
      const list = waiting.get(kind) ?? [];
      list.push(resolve);
      waiting.set(kind, list);
    });
  const ask = async (message: ToBenchWorker, kind: FromBenchWorker['kind']) => {
    if (exited) throw new Error('the bench worker exited');
    const answer = expect(kind);
    child.send(message);
    return answer;
  };

  const ready = await expect('ready');
  if (exited) throw new Error('the bench worker exited before it was ready');
  const restRssBytes = ready.kind === 'ready' ? ready.rssBytes : 0;

  return {
    restRssBytes,
    async resetPeak() {
      await ask({ kind: 'reset' }, 'reset');
    },
    async peak() {
      const answer = await ask({ kind: 'peak' }, 'peak');
      return answer.kind === 'peak'
        ? { peakRssBytes: answer.rssBytes, workerCpuMs: answer.cpuMs }
        : { peakRssBytes: 0, workerCpuMs: 0 };
    },
    timingsOf(importId) {
      const known = timings.get(importId);
      if (known) return Promise.resolve(known);
      return new Promise((resolve) => timingWaiters.set(importId, resolve));
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.send({ kind: 'stop' } satisfies ToBenchWorker);
      await once(child, 'exit');
    },
  };
}

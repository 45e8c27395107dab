import { createImportRouter } from '@erp-import/core/express';
import type { PublicImportRecord } from '@erp-import/core/contract';
import {
  startEmbeddedPostgres,
  workerProcessSettings,
  type EmbeddedPostgresHandle,
} from '@erp-import/dev-services';
import {
  createExampleHost,
  createExampleTables,
  type ExampleHost,
} from '@erp-import/example-definitions';
import express from 'express';
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { build } from 'tsup';
import { largeFile, type LargeFormat } from './large-files.js';
import type { WorkerReport } from './large-import-worker.js';
import { failUsage, parseArgsOrExit } from './parse-args-or-exit.js';

// Shows that a worker's memory does not grow with the file: generates a
// file on the fly (a CSV of a million rows by default; `--format json` or
// `--format xml` with `--size-mb 1024` for about 1 GB of products or of
// NF-e invoices with their items), uploads it, lets a worker in a child
// process import it while this process polls its status, then prints the
// counts and the worker's peak resident memory. A script, not a test.

const usage = `Usage: npm run large-import [-- OPTIONS]

Generates a large file, uploads it, imports it in a worker process and
prints the worker's peak resident memory. Without DATABASE_URL, runs on
an embedded PostgreSQL it throws away.

  --format csv|json|xml   csv: rows of demo_prices; json: an array of
                          products; xml: NF-e invoices with items (csv)
  --rows N                the CSV's rows (1000000)
  --size-mb N             the JSON or XML file's size (1024)
  --max-rss-mb N          exit 1 if the worker peaks above this (250)
  --worker-code dist|source
                          the built packages on plain Node (dist), or the
                          TypeScript sources through tsx (source)`;

const { values } = parseArgsOrExit(
  {
    options: {
      format: { type: 'string', default: 'csv' },
      rows: { type: 'string' },
      'size-mb': { type: 'string' },
      'max-rss-mb': { type: 'string', default: '250' },
      // `dist` builds the packages (tsup, JavaScript only) and runs the
      // worker on plain Node, as a host deploys it; `source` runs it on
      // the TypeScript sources through tsx, which costs some 45 MB of
      // its own.
      'worker-code': { type: 'string', default: 'dist' },
      help: { type: 'boolean', short: 'h' },
    },
  },
  usage,
);
if (!['dist', 'source'].includes(values['worker-code'])) {
  failUsage('--worker-code must be dist or source', usage);
}
if (!['csv', 'json', 'xml'].includes(values.format)) {
  failUsage(`--format must be csv, json or xml, not "${values.format}"`, usage);
}
// A CSV is sized by its rows, JSON and XML by their bytes: the other
// option would be silently ignored.
const sizedBy = values.format === 'csv' ? 'rows' : 'size-mb';
const unused = values.format === 'csv' ? 'size-mb' : 'rows';
if (values[unused] !== undefined) {
  failUsage(
    `--${unused} does not apply to --format ${values.format}; ` +
      `it is sized by --${sizedBy}`,
    usage,
  );
}
values.rows ??= '1000000';
values['size-mb'] ??= '1024';
for (const option of ['rows', 'size-mb', 'max-rss-mb'] as const) {
  const value = Number(values[option]);
  if (!Number.isInteger(value) || value <= 0) {
    failUsage(
      `--${option} must be a positive integer, not "${values[option]}"`,
      usage,
    );
  }
}
const file = largeFile({
  format: values.format as LargeFormat,
  rows: Number(values.rows),
  bytes: Number(values['size-mb']) * 1024 * 1024,
});
const maxRssMb = Number(values['max-rss-mb']);
const tenant = 'large-import';
const token = 'large-import-token';

const logger = pino(
  { name: 'large-import', level: process.env.LOG_LEVEL ?? 'warn' },
  pino.destination(2),
);

let embedded: Promise<EmbeddedPostgresHandle> | undefined;
let host: ExampleHost | undefined;
let server: Server | undefined;
let child: ChildProcess | undefined;
let exitCode = 1;

let stopping: Promise<void> | undefined;
// Once, however many ask: Ctrl-C's handler and the run's own end.
function stopEverything(): Promise<void> {
  stopping ??= stopAll();
  return stopping;
}

async function stopAll(): Promise<void> {
  child?.kill();
  server?.closeAllConnections();
  server?.close();
  await host?.close().catch(() => undefined);
  // The embedded PostgreSQL's folder (hundreds of MB after a large run)
  // goes with it.
  // A start still under way is waited for (it cleans up if it fails).
  await (await embedded?.catch(() => undefined))?.stop();
}

// Ctrl-C stops the services too, so no PostgreSQL or its folder is left.
// Every SIGINT is heard, and only the first acts: npm and tsx pass on
// the one the terminal sent the whole group, and a second with no
// listener left ended the script before its cleanup.
let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) return;
  interrupted = true;
  console.log('\nInterrupted; stopping.');
  void stopEverything().finally(() => process.exit(130));
});

try {
  exitCode = (await run()) ? 0 : 1;
} catch (error) {
  // Once interrupted, what the stopping broke is no news.
  if (!interrupted) console.error('large-import failed:', error);
} finally {
  await stopEverything();
}
process.exit(interrupted ? 130 : exitCode);

async function run(): Promise<boolean> {
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.log('Starting an embedded PostgreSQL (no DATABASE_URL set)...');
    embedded = startEmbeddedPostgres();
    databaseUrl = (await embedded).url;
  }

  host = await createExampleHost(
    { databaseUrl, queue: 'pg', maxUploadBytes: undefined },
    logger,
  );
  await createExampleTables(host.pool);
  // A run against a kept database starts from an empty tenant again.
  for (const table of file.tables) {
    await host.pool.query(`DELETE FROM ${table} WHERE tenant_id = $1`, [
      tenant,
    ]);
  }
  const baseUrl = await startServer(host);

  const worker = await startWorker(databaseUrl);
  console.log(
    `Worker pid ${worker.pid}: ${mb(worker.startRss)} MB resident at rest.`,
  );

  console.log(`Uploading a generated ${file.format} file (${file.entity})...`);
  const accepted = await upload(baseUrl);
  console.log(`Accepted as ${accepted.id}: ${mb(accepted.byteSize)} MB.`);

  const record = await follow(baseUrl, accepted.id);
  const peak = await worker.stop();
  return verdict(record, peak);
}

async function startServer(target: ExampleHost): Promise<string> {
  const app = express();
  app.use(
    createImportRouter(target.importer, {
      authenticate: async (given) => (given === token ? { tenant } : null),
      logger,
    }),
  );
  server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface WorkerHandle {
  pid: number;
  startRss: number;
  /** Stops the worker; resolves with its peaks, in bytes. */
  stop(): Promise<{ rss: number; heapUsed: number }>;
}

async function startWorker(databaseUrl: string): Promise<WorkerHandle> {
  const fromDist = values['worker-code'] === 'dist';
  const script = fromDist
    ? await buildWorker()
    : fileURLToPath(new URL('./large-import-worker.ts', import.meta.url));
  const process_ = fork(script, [], {
    execArgv: [
      ...(fromDist ? [] : ['--import', 'tsx', '--conditions=source']),
      // See "Worker memory" in the README.
      ...workerProcessSettings.execArgv,
    ],
    env: {
      ...workerProcessSettings.env,
      ...process.env,
      DATABASE_URL: databaseUrl,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child = process_;

  const peak = { rss: 0, heapUsed: 0 };
  let resolveStopped: (peaks: typeof peak) => void = () => undefined;
  const stopped = new Promise<typeof peak>((done) => (resolveStopped = done));
  const ready = new Promise<number>((done, fail) => {
    process_.on('message', (message: WorkerReport) => {
      peak.rss = Math.max(peak.rss, message.rssBytes, message.peakRssBytes);
      peak.heapUsed = Math.max(peak.heapUsed, message.heapUsedBytes);
      if (message.kind === 'ready') done(message.rssBytes);
      if (message.kind === 'stopped') resolveStopped(peak);
    });
    process_.once('exit', (code) => {
      fail(new Error(`the worker exited with ${code}`));
      resolveStopped(peak);
    });
  });
  const startRss = await ready;

  return {
    pid: process_.pid ?? 0,
    startRss,
    async stop() {
      process_.send('stop');
      return stopped;
    },
  };
}

/**
 * Builds core and the adapters (JavaScript only), then the worker script
 * with the example definitions inlined, into `examples/demo/dist`; the
 * packages are loaded from their builds. Returns the script's path.
 */
async function buildWorker(): Promise<string> {
  console.log('Building the packages and the worker (--worker-code dist)...');
  const root = new URL('../../../', import.meta.url);
  for (const dir of ['packages/core', 'packages/adapter-pg']) {
    const built = spawnSync('npx', ['tsup', '--no-dts', '--silent'], {
      cwd: new URL(`${dir}/`, root),
      encoding: 'utf8',
    });
    if (built.status !== 0) {
      throw new Error(`building ${dir}: ${built.stdout}${built.stderr}`);
    }
  }
  const outDir = fileURLToPath(new URL('../dist/', import.meta.url));
  await build({
    entry: {
      'large-import-worker': fileURLToPath(
        new URL('./large-import-worker.ts', import.meta.url),
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
    // The definitions are TypeScript only; the rest loads from builds.
    noExternal: ['@erp-import/example-definitions'],
    external: [
      '@erp-import/core',
      '@erp-import/adapter-pg',
      '@erp-import/adapter-redis',
      'pg',
      'pino',
    ],
  });
  return join(outDir, 'large-import-worker.js');
}

/** The file is generated while it uploads; it is never on disk or whole. */
async function upload(baseUrl: string): Promise<PublicImportRecord> {
  const body = Readable.from(file.chunks(), { objectMode: false });
  const query = new URLSearchParams({
    entity: file.entity,
    format: file.format,
    encoding: 'utf-8',
    fileName: `large.${file.format}`,
  });
  const response = await fetch(`${baseUrl}/imports?${query}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': file.contentType,
    },
    body: Readable.toWeb(body) as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  if (response.status !== 202) {
    throw new Error(`upload: ${response.status} ${await response.text()}`);
  }
  return (await response.json()) as PublicImportRecord;
}

async function follow(
  baseUrl: string,
  id: string,
): Promise<PublicImportRecord> {
  const started = Date.now();
  for (;;) {
    const response = await fetch(`${baseUrl}/imports/${id}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const record = (await response.json()) as PublicImportRecord;
    const seconds = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
    const p = record.progress;
    console.log(
      `${seconds} s  ${record.state.padEnd(10)} ${p.phase.padEnd(8)} ` +
        `${p.recordsRead.toLocaleString('en-US').padStart(9)} records  ` +
        `${mb(p.bytesRead)}/${mb(p.bytesTotal ?? 0)} MB`,
    );
    if (['completed', 'failed', 'cancelled'].includes(record.state)) {
      return record;
    }
    await new Promise((done) => setTimeout(done, 1000));
  }
}

function verdict(
  record: PublicImportRecord,
  peak: { rss: number; heapUsed: number },
): boolean {
  const peakBytes = peak.rss;
  const c = record.counts;
  const sum =
    c.inserted +
    c.updated +
    c.unchanged +
    c.rejected +
    c.superseded +
    c.skipped;
  console.log(
    `\n${record.state}: read ${c.read}, inserted ${c.inserted}, updated ` +
      `${c.updated}, unchanged ${c.unchanged}, rejected ${c.rejected}`,
  );
  if (record.failure) {
    console.log(`${record.failure.code}: ${record.failure.message}`);
  }

  const expected = [...file.written.values()].reduce((a, b) => a + b, 0);
  for (const [entity, counts] of Object.entries(c.entities ?? {})) {
    console.log(
      `  ${entity}: read ${counts.read}, inserted ${counts.inserted}, ` +
        `rejected ${counts.rejected} (the file holds ${file.written.get(entity)})`,
    );
  }
  const checks = [
    { ok: record.state === 'completed', what: 'the import completed' },
    { ok: c.read === expected, what: `${expected} records were read` },
    {
      ok: [...file.written].every(
        ([entity, written]) =>
          file.written.size === 1 || c.entities?.[entity]?.read === written,
      ),
      what: 'each entity read the records the file holds',
    },
    { ok: sum === c.read, what: 'the counts add up to the records read' },
    {
      ok: peakBytes / 1024 / 1024 < maxRssMb,
      what: `the worker's peak memory, ${mb(peakBytes)} MB, is under ${maxRssMb} MB`,
    },
  ];
  for (const check of checks) {
    console.log(`${check.ok ? 'ok  ' : 'FAIL'}  ${check.what}`);
  }
  console.log(
    `Worker peak: ${mb(peakBytes)} MB resident (VmHWM), ` +
      `${mb(peak.heapUsed)} MB of JavaScript heap in use (sampled).`,
  );
  console.log(`WORKER_PEAK_RSS_MB=${mb(peakBytes)}`);
  return checks.every((check) => check.ok);
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

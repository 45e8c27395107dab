import type { ImportWorker } from '@erp-import/core';
import {
  importFormats,
  type ImportFormat,
  type PublicImportRecord,
} from '@erp-import/core/contract';
import { createImportRouter } from '@erp-import/core/express';
import {
  startEmbeddedPostgres,
  type EmbeddedPostgresHandle,
} from '@erp-import/dev-services';
import {
  createExampleHost,
  createExampleTables,
  exampleDefinitions,
  type ExampleHost,
} from '@erp-import/example-definitions';
import express from 'express';
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import pretty from 'pino-pretty';
import {
  createClient,
  ErpImportApiError,
  ErpImportNetworkError,
  type NodeErpImportClient,
} from '@erp-import/sdk-client/node';
import { failUsage, parseArgsOrExit } from './parse-args-or-exit.js';
import { writeSampleFiles, type SampleFile } from './sample-files.js';

// The whole flow on one machine: PostgreSQL (embedded unless DATABASE_URL
// names one), the API server and a worker in this process, files uploaded
// over HTTP, their progress polled, their counts and rejected rows shown.

const usage = `Usage: npm run demo [-- FILE --entity NAME [--format F]]

Without FILE, imports price lists it generates (entity demo_prices).
Without DATABASE_URL, runs on an embedded PostgreSQL it throws away.

  --expect read=N,inserted=N,...        exit 1 unless the first import's
                                        counts are these
  --expect-again unchanged=N,...        the same for the second upload
                                        of the same file`;

const { values, positionals } = parseArgsOrExit(
  {
    allowPositionals: true,
    options: {
      entity: { type: 'string' },
      format: { type: 'string' },
      expect: { type: 'string' },
      'expect-again': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  },
  usage,
);
if (positionals.length > 1) {
  failUsage(`One FILE at a time, not ${positionals.length}.`, usage);
}
const userFile = positionals[0];
if (userFile !== undefined && values.entity === undefined) {
  failUsage('--entity NAME is required with a FILE', usage);
}
// Without FILE the demo imports its own price lists: an entity or a
// format given for them would be silently ignored.
if (userFile === undefined) {
  for (const option of ['entity', 'format'] as const) {
    if (values[option] !== undefined) {
      failUsage(`--${option} goes with a FILE`, usage);
    }
  }
}
if (
  values.format !== undefined &&
  !(importFormats as readonly string[]).includes(values.format)
) {
  failUsage(
    `--format must be one of ${importFormats.join(', ')}, ` +
      `not "${values.format}"`,
    usage,
  );
}
// Checked before anything starts, so a mistyped path costs one clear line
// rather than a stack trace after PostgreSQL and the server came up.
if (userFile !== undefined && !isFile(userFile)) {
  console.error(
    `No file at ${resolve(userFile)} (FILE is read relative to the ` +
      `current directory, ${process.cwd()}).`,
  );
  process.exit(1);
}

// The same for an entity the demo's server does not take.
const entities = exampleDefinitions.map((definition) => definition.entity);
if (values.entity !== undefined && !entities.includes(values.entity)) {
  console.error(
    `Unknown entity "${values.entity}"; the demo takes ${entities.join(', ')}.`,
  );
  process.exit(2);
}

const tenantToken = 'demo-token';
// Engine warnings go to stderr; the demo's own story goes to stdout.
// They are read by a person here, not a log collector: one line each,
// by pino-pretty, without what the story already says (which import).
const logger = pino(
  { name: 'erp-import-demo', level: process.env.LOG_LEVEL ?? 'warn' },
  pretty({
    destination: 2,
    sync: true,
    singleLine: true,
    ignore: 'pid,hostname,time,name,tenant,entity,importId',
    // The engine's `error` is a message, not an Error with a stack.
    errorLikeObjectKeys: ['err'],
  }),
);

const started: {
  embedded?: Promise<EmbeddedPostgresHandle>;
  host?: ExampleHost;
  server?: Server;
  worker?: ImportWorker;
  sampleDirectory?: string;
} = {};

/** Returns false when an import failed or an expectation was not met. */
async function run(): Promise<boolean> {
  const databaseUrl = await database();
  // ERP_IMPORT_QUEUE=redis (with REDIS_URL) runs the demo on BullMQ.
  const queue = process.env.ERP_IMPORT_QUEUE === 'redis' ? 'redis' : 'pg';
  const host = (started.host = await createExampleHost(
    {
      databaseUrl,
      queue,
      redisUrl: process.env.REDIS_URL,
      maxUploadBytes: undefined,
    },
    logger,
  ));
  await createExampleTables(host.pool);

  const baseUrl = await startServer(host);
  started.worker = await host.importer.startWorker({ concurrency: 2 });
  console.log(`API on ${baseUrl}, one worker in this process\n`);

  const client = createClient({ baseUrl, token: tenantToken });
  if (userFile !== undefined) return importUserFile(client, userFile);
  return importSampleFiles(client);
}

async function database(): Promise<string> {
  const url = process.env.DATABASE_URL;
  if (url) {
    console.log(`Using ${redact(url)}; imported rows stay there.`);
    return url;
  }
  console.log('Starting an embedded PostgreSQL (no DATABASE_URL set)...');
  started.embedded = startEmbeddedPostgres();
  const embedded = await started.embedded;
  console.log(`PostgreSQL on port ${embedded.port}.`);
  return embedded.url;
}

async function startServer(host: ExampleHost): Promise<string> {
  const app = express();
  app.use(
    createImportRouter(host.importer, {
      authenticate: async (token) =>
        token === tenantToken ? { tenant: 'demo', subject: 'demo' } : null,
      logger,
    }),
  );
  const server = (started.server = app.listen(0, '127.0.0.1'));
  await new Promise<void>((done, fail) => {
    server.once('listening', done);
    server.once('error', fail);
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function importUserFile(
  client: NodeErpImportClient,
  path: string,
): Promise<boolean> {
  const file: SampleFile = {
    path: resolve(path),
    entity: values.entity as string,
    label: path,
  };

  const first = await importAndReport(client, file);
  // The same bytes would fail the same way: nothing to show by sending
  // them again.
  if (first.state !== 'completed') return meets(first, values.expect, 'import');
  const second = await importAndReport(client, {
    ...file,
    label: `${path}, again: nothing should change`,
  });
  return (
    meets(first, values.expect, 'first import') &&
    meets(second, values['expect-again'], 'second import')
  );
}

async function importSampleFiles(
  client: NodeErpImportClient,
): Promise<boolean> {
  const directory = await mkdtemp(join(tmpdir(), 'erp-import-demo-'));
  started.sampleDirectory = directory;
  const { prices, update } = await writeSampleFiles(directory);
  console.log(`Sample files written to ${directory}\n`);

  const records = [
    await importAndReport(client, prices),
    await importAndReport(client, {
      ...prices,
      label: 'the same price list again: all unchanged',
    }),
    await importAndReport(client, update),
  ];
  return records.every((record) => record.state === 'completed');
}

/** Uploads one file, follows it to its end and prints what happened. */
async function importAndReport(
  client: NodeErpImportClient,
  file: SampleFile,
): Promise<PublicImportRecord> {
  console.log(`> ${file.label}`);
  const accepted = await client.imports.create({
    file: file.path,
    entity: file.entity,
    ...(values.format !== undefined && {
      format: values.format as ImportFormat,
    }),
  });
  console.log(
    `  accepted as ${accepted.id} (${formatBytes(accepted.byteSize)})`,
  );

  const record = await follow(client, accepted.id);
  report(record);
  // A failed import's counts are all zero (nothing was applied); the
  // rows it rejected before it failed are in the error log all the same.
  const logged =
    record.state === 'failed'
      ? record.progress.recordsRejected
      : record.counts.rejected + record.counts.superseded;
  if (logged > 0) await printRejected(client, record.id);
  console.log(
    `RESULT entity=${record.entity} state=${record.state} ` +
      Object.entries(record.counts)
        .filter(([, value]) => typeof value === 'number')
        .map(([name, value]) => `${name}=${value}`)
        .join(' '),
  );
  console.log('');
  return record;
}

/** Waits for the import's end, printing each change of its progress. */
async function follow(
  client: NodeErpImportClient,
  id: string,
): Promise<PublicImportRecord> {
  let lastLine = '';
  return client.imports.wait(id, {
    intervalMs: 200,
    onProgress: (record) => {
      const line = progressLine(record);
      if (line !== lastLine) console.log(line);
      lastLine = line;
    },
  });
}

function progressLine(record: PublicImportRecord): string {
  const { progress } = record;
  const total = progress.bytesTotal;
  const share =
    total && total > 0
      ? ` (${Math.floor((100 * progress.bytesRead) / total)}%)`
      : '';
  return (
    `  ${record.state.padEnd(10)} ${progress.phase.padEnd(8)} ` +
    `${formatCount(progress.recordsRead)} records, ` +
    `${formatCount(progress.recordsRejected)} rejected, ` +
    `${formatBytes(progress.bytesRead)} read${share}`
  );
}

function report(record: PublicImportRecord): void {
  const seconds =
    record.finishedAt && record.startedAt
      ? (Date.parse(record.finishedAt) - Date.parse(record.startedAt)) / 1000
      : null;
  const took = seconds === null ? '' : ` in ${seconds.toFixed(1)} s`;
  if (record.state !== 'completed') {
    console.log(`  ${record.state}${took}`);
    if (record.failure) {
      console.log(`  ${record.failure.code}: ${record.failure.message}`);
    }
    if (record.state === 'failed') {
      const { recordsRead, recordsRejected } = record.progress;
      console.log(
        `  nothing applied; ${formatCount(recordsRead)} records read and ` +
          `${formatCount(recordsRejected)} rejected before it failed`,
      );
    }
    return;
  }

  const c = record.counts;
  const detected = [record.detected.encoding, record.detected.delimiter]
    .filter(Boolean)
    .map((value) => JSON.stringify(value))
    .join(', ');
  console.log(
    `  completed${took}${detected ? ` (read as ${detected})` : ''}:\n` +
      `  read ${formatCount(c.read)} = inserted ${formatCount(c.inserted)}` +
      ` + updated ${formatCount(c.updated)}` +
      ` + unchanged ${formatCount(c.unchanged)}` +
      // Named only when there are any, but always part of the sum.
      (c.superseded > 0
        ? ` + superseded ${formatCount(c.superseded)} (by a later row)`
        : '') +
      (c.skipped > 0 ? ` + skipped ${formatCount(c.skipped)}` : '') +
      ` + rejected ${formatCount(c.rejected)}`,
  );
}

async function printRejected(
  client: NodeErpImportClient,
  id: string,
): Promise<void> {
  const page = await client.imports.errorPage(id, { limit: 10 });
  console.log('  first entries of the error log:');
  for (const issue of page.items) {
    const where =
      issue.position.line !== undefined
        ? `line ${issue.position.line}`
        : `record ${issue.position.recordNumber}`;
    const warning = issue.severity === 'warning' ? ' (warning)' : '';
    // The message names the column and quotes the value already.
    console.log(`    ${where}  [${issue.code}] ${issue.message}${warning}`);
  }
}

/** `read=12096,rejected=0` against the record's counts. */
function meets(
  record: PublicImportRecord,
  expectation: string | undefined,
  label: string,
): boolean {
  if (record.state !== 'completed') {
    console.error(
      expectation === undefined
        ? `${label} ${record.state}: nothing was applied`
        : `${label}: ended ${record.state}, expected completed`,
    );
    return false;
  }
  if (expectation === undefined) return true;

  let ok = true;
  for (const pair of expectation.split(',')) {
    const [name = '', wanted = ''] = pair.split('=').map((s) => s.trim());
    const actual = (record.counts as unknown as Record<string, number>)[name];
    if (actual === undefined || actual !== Number(wanted)) {
      console.error(`${label}: expected ${name}=${wanted}, got ${actual}`);
      ok = false;
    }
  }
  if (ok) console.log(`${label}: counts as expected (${expectation})`);
  return ok;
}

let stopping: Promise<void> | undefined;
function stopEverything(): Promise<void> {
  stopping ??= stopInOrder();
  return stopping;
}

async function stopInOrder(): Promise<void> {
  // In the reverse order of starting: stop taking work, then the pool and
  // its connections (host.close waits until they are closed), and only
  // then PostgreSQL, which would otherwise terminate them under the pool.
  try {
    await started.worker?.stop();
    if (started.server) {
      const server = started.server;
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    }
    await started.host?.close();
  } finally {
    // Even when something above failed: no PostgreSQL is left running.
    // A start still under way is waited for (it cleans up if it fails).
    await (await started.embedded?.catch(() => undefined))?.stop();
    if (started.sampleDirectory) {
      await rm(started.sampleDirectory, { recursive: true, force: true });
    }
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

// Ctrl-C stops the services too, so no PostgreSQL is left running.
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

let failed = false;
try {
  failed = !(await run());
} catch (error) {
  // The server's refusal or a lost connection is said in one line; only
  // a fault of the demo itself is worth its stack.
  const known =
    error instanceof ErpImportApiError ||
    error instanceof ErpImportNetworkError;
  // Once interrupted, what the stopping broke is no news.
  if (!interrupted) {
    console.error('\nThe demo failed:', known ? error.message : error);
  }
  failed = true;
} finally {
  await stopEverything();
}
process.exit(interrupted ? 130 : failed ? 1 : 0);

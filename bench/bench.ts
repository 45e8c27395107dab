import {
  createTestDatabase,
  startEmbeddedPostgres,
  type EmbeddedPostgresHandle,
  type TestDatabase,
} from '@erp-import/dev-services';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  baselineTable,
  prepareBaseline,
  runBaseline,
  truncateBaseline,
  type BaselineTimings,
} from './baseline.js';
import { createTargetTableSql } from './bench-definition.js';
import {
  rowCount,
  writeExport,
  type DataFormat,
  type DataVersion,
} from './customers-data.js';
import { measureParsers, type ParserRow } from './parsers.js';
import {
  productTenant,
  runProductImport,
  startProductStack,
  type ProductRun,
  type ProductStack,
} from './product.js';

// `npm run bench`: the product against PostgreSQL's own COPY + MERGE, on
// the same database in the same run. See BENCHMARKS.md.

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    formats: { type: 'string', default: 'csv,json,xml' },
    'skip-baseline': { type: 'boolean', default: false },
    // The CSV parsers alone, after the loads (or instead of them).
    'skip-parsers': { type: 'boolean', default: false },
    'parsers-only': { type: 'boolean', default: false },
    // `never` reads in the worker's own thread, to compare.
    'parse-thread': { type: 'string', default: 'auto' },
    // `dist` builds the packages (tsup, JavaScript only) and runs the
    // worker on them; `source` runs it on the TypeScript sources.
    'worker-code': { type: 'string', default: 'dist' },
    dir: { type: 'string' },
  },
});
const rows = positive(values.rows, '--rows');
const runs = positive(values.runs, '--runs');
const formats = values.formats.split(',') as DataFormat[];
const dataDir = values.dir ?? join(tmpdir(), `erp-import-bench-${rows}`);
const benchTable = 'bench_customers';

let embedded: EmbeddedPostgresHandle | undefined;
let database: TestDatabase | undefined;
let pool: pg.Pool | undefined;
let stack: ProductStack | undefined;
let exitCode = 1;
try {
  await main();
  exitCode = 0;
} catch (error) {
  console.error('bench failed:', error);
} finally {
  await stack?.close();
  await pool?.end();
  await database?.drop().catch(() => undefined);
  await embedded?.stop();
}
process.exit(exitCode);

async function main(): Promise<void> {
  if (values['parsers-only']) {
    console.log(`${describeMachine()}; parsers only`);
    await measureAndPrintParsers(await generateFiles(['csv']));
    return;
  }
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    console.log('No DATABASE_URL: starting an embedded PostgreSQL...');
    embedded = await startEmbeddedPostgres();
    adminUrl = embedded.url;
  }
  database = await createTestDatabase(adminUrl, 'bench');
  pool = new pg.Pool({ connectionString: database.url, max: 2 });
  const version = (await pool.query('SHOW server_version')).rows[0]
    .server_version as string;
  console.log(`${describeMachine()}; PostgreSQL ${version}`);

  const files = await generateFiles();
  await pool.query(createTargetTableSql(benchTable));
  await prepareBaseline(pool);

  const workerCode = values['worker-code'] === 'source' ? 'source' : 'dist';
  if (workerCode === 'dist') buildPackages();
  stack = await startProductStack(database.url, {
    parseThread: values['parse-thread'] !== 'never',
    workerCode,
  });
  console.log(
    `worker (${workerCode}, parse thread ${values['parse-thread']}): ` +
      `${mb(stack.worker.restRssBytes)} MB resident at rest`,
  );

  // Each run measures everything once, the baseline first: a machine
  // that slows down for a while slows a run's baseline and product alike,
  // and the ratios are taken run by run (see printTable).
  const results = resultRows();
  for (let run = 1; run <= runs; run++) {
    if (!values['skip-baseline']) await measureBaseline(files, results, run);
    for (const format of formats) {
      await measureProduct(format, files, results, run);
    }
  }
  printTable(results.filter((row) => row.samples.length > 0));
  if (!values['skip-parsers'] && formats.includes('csv')) {
    await measureAndPrintParsers(files);
  }
  console.log(
    `load after: ${loadavg()
      .map((n) => n.toFixed(1))
      .join(' ')}`,
  );
}

function describeMachine(): string {
  return (
    `${rows.toLocaleString('en-US')} rows, ${runs} runs each; ` +
    `${cpus().length} × ${cpus()[0]?.model}; ` +
    `${(totalmem() / 2 ** 30).toFixed(0)} GiB; load ${loadavg()
      .map((n) => n.toFixed(1))
      .join(' ')}`
  );
}

/** The parsers on the initial CSV, as a table of their own. */
async function measureAndPrintParsers(files: Files): Promise<void> {
  const measured = await measureParsers(files.csv1, runs, rowCount(rows, 1));
  const reference = median(measured[0]!.samplesMs);
  const line = (row: ParserRow) => {
    const ms = median(row.samplesMs);
    return [
      row.name,
      seconds(ms),
      Math.round(row.records / (ms / 1000)).toLocaleString('en-US'),
      `${(reference / ms).toFixed(2)}×`,
    ];
  };
  console.log(
    `\nCSV parsers alone, ${rowCount(rows, 1).toLocaleString('en-US')} ` +
      `records, medians of ${runs} runs (speed relative to the first):\n`,
  );
  console.log('| parser | s | records/s | speed |');
  console.log('| --- | --- | --- | --- |');
  for (const row of measured) console.log(`| ${line(row).join(' | ')} |`);
}

type Files = Record<`${DataFormat}${DataVersion}`, string>;

async function generateFiles(
  wanted: DataFormat[] = ['csv', ...formats.filter((f) => f !== 'csv')],
): Promise<Files> {
  mkdirSync(dataDir, { recursive: true });
  const files = {} as Files;
  for (const format of wanted) {
    for (const version of [1, 2] as const) {
      const path = join(dataDir, `customers-v${version}.${format}`);
      files[`${format}${version}`] = path;
      // The data is deterministic: a file of this size was made by this.
      if (existsSync(path) && statSync(path).size > 0) continue;
      const started = performance.now();
      const bytes = await writeExport(path, rows, version, format);
      console.log(
        `generated ${path} (${mb(bytes)} MB, ` +
          `${rowCount(rows, version)} rows) in ${seconds(performance.now() - started)} s`,
      );
    }
  }
  return files;
}

interface Sample {
  totalMs: number;
  uploadMs?: number;
  waitMs?: number;
  parseMs?: number;
  copyMs?: number;
  mergeMs?: number;
  peakRssBytes?: number;
  workerCpuMs?: number;
}

interface ResultRow {
  name: string;
  kind: 'baseline' | DataFormat;
  load: 'initial' | 're-import';
  rows: number;
  samples: Sample[];
}

/** The rows of the table, in its order, each gathering its runs. */
function resultRows(): ResultRow[] {
  const row = (
    name: string,
    kind: ResultRow['kind'],
    load: ResultRow['load'],
  ): ResultRow => ({
    name,
    kind,
    load,
    rows: rowCount(rows, load === 'initial' ? 1 : 2),
    samples: [],
  });
  const baseline = 'baseline COPY csv + MERGE';
  const product = (format: DataFormat) =>
    `product, HTTP upload of ${format.toUpperCase()}`;
  return [
    row(baseline, 'baseline', 'initial'),
    row(baseline, 'baseline', 're-import'),
    ...formats.flatMap((format) => [
      row(product(format), format, 'initial'),
      // JSON and XML are compared with CSV on the initial load only.
      ...(format === 'csv' ? [row(product(format), format, 're-import')] : []),
    ]),
  ];
}

function rowOf(
  results: ResultRow[],
  kind: ResultRow['kind'],
  load: ResultRow['load'],
): ResultRow | undefined {
  return results.find((row) => row.kind === kind && row.load === load);
}

async function measureBaseline(
  files: Files,
  results: ResultRow[],
  run: number,
): Promise<void> {
  await truncateBaseline(pool!);
  await settle();
  const initial = fromBaseline(await runBaseline(pool!, files.csv1));
  await pool!.query(`VACUUM ANALYZE ${baselineTable}`);
  await settle();
  const again = fromBaseline(await runBaseline(pool!, files.csv2));
  rowOf(results, 'baseline', 'initial')!.samples.push(initial);
  rowOf(results, 'baseline', 're-import')!.samples.push(again);
  report('baseline', run, initial, again);
}

/**
 * Before each timed load, baseline's and product's alike: a checkpoint
 * and no autovacuum at work in the bench's database, so that no run pays
 * for the writes of the one before it (a million rows leave a checkpoint
 * and a vacuum of the table, and of the file store, to do).
 */
async function settle(): Promise<void> {
  await pool!.query('CHECKPOINT').catch(() => undefined);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { rows } = await pool!.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE backend_type = 'autovacuum worker' AND datname = current_database()`,
    );
    if (rows[0]!.n === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function fromBaseline(timings: BaselineTimings): Sample {
  return {
    totalMs: timings.totalMs,
    copyMs: timings.copyMs,
    mergeMs: timings.mergeMs,
  };
}

async function measureProduct(
  format: DataFormat,
  files: Files,
  results: ResultRow[],
  run: number,
): Promise<void> {
  await pool!.query(`TRUNCATE ${benchTable}`);
  await settle();
  const first = await runProductImport(stack!, files[`${format}1`], format);
  check(first, rowCount(rows, 1));
  const initial = fromProduct(first);
  rowOf(results, format, 'initial')!.samples.push(initial);

  const reimport = rowOf(results, format, 're-import');
  let again: Sample | undefined;
  if (reimport !== undefined) {
    await pool!.query(`VACUUM ANALYZE ${benchTable}`);
    await settle();
    const second = await runProductImport(stack!, files[`${format}2`], format);
    check(second, rowCount(rows, 2));
    again = fromProduct(second);
    reimport.samples.push(again);
  }
  report(`product ${format}`, run, initial, again);
}

function check(run: ProductRun, expected: number): void {
  const { counts } = run.record;
  if (counts.read !== expected || counts.rejected !== 0) {
    throw new Error(
      `expected ${expected} records read and none rejected: ${JSON.stringify(counts)}`,
    );
  }
  if (productTenant !== run.record.tenant) throw new Error('wrong tenant');
}

function fromProduct(run: ProductRun): Sample {
  return {
    totalMs: run.totalMs,
    uploadMs: run.uploadMs,
    waitMs: run.waitMs,
    ...(run.timings.parseMs !== undefined && { parseMs: run.timings.parseMs }),
    copyMs: run.timings.copyMs,
    mergeMs: run.timings.mergeMs,
    peakRssBytes: run.peakRssBytes,
    workerCpuMs: run.workerCpuMs,
  };
}

function report(name: string, run: number, first: Sample, second?: Sample) {
  const peak =
    first.peakRssBytes === undefined
      ? ''
      : `, peak ${mb(first.peakRssBytes)} MB`;
  console.log(
    `  ${name} run ${run}: initial ${seconds(first.totalMs)} s${peak}` +
      (second ? `, re-import ${seconds(second.totalMs)} s` : ''),
  );
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[middle]!
    : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function medianOf(
  row: ResultRow,
  pick: (sample: Sample) => number | undefined,
) {
  const picked = row.samples
    .map(pick)
    .filter((n): n is number => n !== undefined);
  return picked.length === 0 ? undefined : median(picked);
}

function printTable(results: ResultRow[]): void {
  const header = [
    'what',
    'load',
    'rows',
    's',
    'rows/s',
    'ratio',
    'peak MB',
    'CPU s',
    'upload s',
    'wait s',
    'parse s',
    'COPY s',
    'MERGE s',
  ];
  const lines = results.map((row) => {
    const total = medianOf(row, (s) => s.totalMs)!;
    const reference =
      row.kind === 'baseline' || row.kind === 'csv'
        ? results.find((r) => r.kind === 'baseline' && r.load === row.load)
        : results.find((r) => r.kind === 'csv' && r.load === row.load);
    // Throughput ratio: the reference's time over this one's, per row,
    // in each run (both were measured minutes apart), then the median.
    const paired =
      reference === undefined || row === reference
        ? []
        : row.samples.flatMap((sample, run) => {
            const other = reference.samples[run];
            return other === undefined
              ? []
              : [other.totalMs / reference.rows / (sample.totalMs / row.rows)];
          });
    const ratio =
      paired.length === 0
        ? '-'
        : median(paired).toFixed(2) +
          (row.kind === 'csv' ? ' of baseline' : ' of CSV');
    const optional = (value: number | undefined) =>
      value === undefined ? '-' : seconds(value);
    const peak = medianOf(row, (s) => s.peakRssBytes);
    return [
      row.name,
      row.load,
      row.rows.toLocaleString('en-US'),
      seconds(total),
      Math.round(row.rows / (total / 1000)).toLocaleString('en-US'),
      ratio,
      peak === undefined ? '-' : mb(peak),
      optional(medianOf(row, (s) => s.workerCpuMs)),
      optional(medianOf(row, (s) => s.uploadMs)),
      optional(medianOf(row, (s) => s.waitMs)),
      optional(medianOf(row, (s) => s.parseMs)),
      optional(medianOf(row, (s) => s.copyMs)),
      optional(medianOf(row, (s) => s.mergeMs)),
    ];
  });

  console.log(`\nMedians of ${runs} runs:\n`);
  console.log(`| ${header.join(' | ')} |`);
  console.log(`| ${header.map(() => '---').join(' | ')} |`);
  for (const line of lines) console.log(`| ${line.join(' | ')} |`);
  console.log(
    "\nparse = the parse thread's busy time (decode, parse, validate, " +
      'encode), which overlaps COPY; COPY = staging the rows, parse ' +
      'included; MERGE = dedupe, counts and MERGE; wait = queue pick-up; ' +
      'ratio = the median of the ratios of each run (each measures the ' +
      'baseline, then the product).',
  );
}

function buildPackages(): void {
  for (const dir of ['packages/core', 'packages/adapter-pg']) {
    const built = spawnSync('npx', ['tsup', '--no-dts'], {
      cwd: new URL(`../${dir}/`, import.meta.url),
      encoding: 'utf8',
    });
    if (built.status !== 0) {
      throw new Error(
        `building ${dir} failed:\n${built.stdout}${built.stderr}`,
      );
    }
  }
}

function positive(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${flag} must be a positive integer, not "${text}"`);
  }
  return value;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(2);
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}

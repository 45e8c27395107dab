import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { createBufferReturns } from '../src/loader/buffer-returns.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';
import { recordingLogger, type LoggedLine } from './recording-logger.js';

// The COPY buffers a parse thread sends go back to it once the socket has
// written them, and it writes later batches into them. A buffer handed
// back too early would be overwritten while PostgreSQL still had to read
// it: the rows would arrive mixed up. So a file of many batches, with
// values of every width, must land exactly as written, in a direct load
// and in a re-import through staging, and the thread must really have
// reused memory (or the test would prove nothing).

describe('buffer returns', () => {
  const track = (
    returns: ReturnType<typeof createBufferReturns>,
    released: string[],
    names: string[],
  ) => {
    const texts = names.map((name) => Buffer.from(name));
    texts.forEach((text, index) =>
      returns.track(text, () => released.push(names[index]!)),
    );
    return texts;
  };

  it('hands nothing back while a stream still holds bytes', () => {
    const released: string[] = [];
    const returns = createBufferReturns();
    track(returns, released, ['a', 'b']);
    returns.settle(
      () => false,
      () => false,
    );
    expect(released).toEqual([]);
  });

  it('hands back in order, up to the first buffer still kept', () => {
    const released: string[] = [];
    const returns = createBufferReturns();
    const [, b] = track(returns, released, ['a', 'b', 'c']);
    returns.settle(
      () => true,
      (text) => text === b,
    );
    expect(released).toEqual(['a']);
    returns.settle(
      () => true,
      () => false,
    );
    expect(released).toEqual(['a', 'b', 'c']);
    returns.settle(
      () => true,
      () => false,
    );
    expect(released).toEqual(['a', 'b', 'c']);
  });

  it('hands back all at the end of a COPY, none after a failed one', () => {
    const released: string[] = [];
    const ended = createBufferReturns();
    track(ended, released, ['a', 'b']);
    ended.releaseAll();
    expect(released).toEqual(['a', 'b']);

    const failed = createBufferReturns();
    track(failed, released, ['c']);
    failed.forget();
    failed.releaseAll();
    expect(released).toEqual(['a', 'b']);
  });

  it('skips text that has nothing to hand back', () => {
    const returns = createBufferReturns();
    returns.track('a line\n', undefined);
    expect(() => returns.releaseAll()).not.toThrow();
  });
});

const database = useTestDatabase('copy_buffers');
let pool: pg.Pool;
let harness: EngineHarness;
const logged: LoggedLine[] = [];

const ledger = {
  entity: 'ledger_lines',
  table: 'ledger_lines',
  key: ['code'],
  columns: [
    { name: 'code', type: 'text' as const },
    { name: 'name', type: 'text' as const },
    { name: 'qty', type: 'integer' as const },
    { name: 'note', type: 'text' as const },
  ],
};

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query(
    'CREATE TABLE ledger_lines (code text PRIMARY KEY, name text, ' +
      'qty integer, note text)',
  );
  harness = await startEngineHarness(pool, [ledger], {
    parseThreadMinBytes: 0,
    logger: recordingLogger(logged).logger,
  });
});

afterAll(async () => {
  await harness.stop();
  await pool.end();
});

interface LedgerRow {
  code: string;
  name: string;
  qty: number;
  note: string;
}

const pieces = ['São', 'Ação', '中文', '😀', 'a\\b', 'tab\there', '"q"', ','];

// Deterministic rows of varied width: some notes run to kilobytes, so
// batches differ in size and a spare is not always large enough.
function ledgerRows(count: number, version: number): LedgerRow[] {
  return Array.from({ length: count }, (_, index) => {
    const piece = pieces[(index + version) % pieces.length]!;
    const width = index % 97 === 0 ? 3000 : (index * 7) % 60;
    return {
      code: `L${String(index).padStart(7, '0')}`,
      name: `${piece} ${index} v${version}`,
      qty: (index * 31 + version) % 100_000,
      note: `${piece}${'x'.repeat(width)}${index}`,
    };
  });
}

function csvOf(rows: LedgerRow[]): string {
  const quote = (value: string) => `"${value.replaceAll('"', '""')}"`;
  const lines = rows.map((row) =>
    [row.code, quote(row.name), String(row.qty), quote(row.note)].join(','),
  );
  return `code,name,qty,note\n${lines.join('\n')}\n`;
}

async function stored(): Promise<LedgerRow[]> {
  const result = await pool.query(
    'SELECT code, name, qty, note FROM ledger_lines ORDER BY code',
  );
  return result.rows as LedgerRow[];
}

function reusedBatches(): number {
  const done = logged.filter((line) => line.message === 'parse thread done');
  expect(done).toHaveLength(1);
  return Number(done[0]!.fields.reusedBatches);
}

describe('COPY buffers reused by the parse thread', () => {
  const count = 60_000;

  // Sends one version of the file; answers the counts it completed with.
  const importVersion = async (version: number) => {
    logged.length = 0;
    const rows = ledgerRows(count, version);
    const record = await harness.run({
      entity: 'ledger_lines',
      format: 'csv',
      body: csvOf(rows),
    });
    expect(record.state).toBe('completed');
    expect(await stored()).toEqual(rows);
    expect(reusedBatches()).toBeGreaterThan(0);
    return record.counts;
  };

  it('land every row as written, straight into an empty table', async () => {
    expect(await importVersion(1)).toMatchObject({
      read: count,
      inserted: count,
    });
  });

  it('land every change as written, through staging', async () => {
    expect(await importVersion(2)).toMatchObject({
      read: count,
      updated: count,
      rejected: 0,
    });
  });
});

import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  sharedData,
  startExample,
  type RunningExample,
} from '@erp-import/example-express-server/test-harness';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The `erp-import` command line as a user runs it (a process, through
// tsx), against the example server running in this test's process.

const database = useTestDatabase('sdk_client_cli');
const tsx = createRequire(import.meta.url).resolve('tsx/cli');
const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const northwind = sharedData('northwind-customers.csv');

let stack: RunningExample;

beforeAll(async () => {
  stack = await startExample(database.url);
});

afterAll(async () => {
  await stack?.close();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; asynchronously, since the server lives in this process. */
function erpImport(
  args: string[],
  env: Record<string, string> = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [tsx, '--conditions=source', main, ...args],
      {
        env: {
          PATH: process.env.PATH,
          ERP_IMPORT_URL: stack.baseUrl,
          ERP_IMPORT_TOKEN: 'token-a',
          ...env,
        },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        const code = error ? error.code : 0;
        if (typeof code !== 'number') {
          reject(error ?? new Error('the CLI did not exit'));
          return;
        }
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Writes `text` as a customers CSV and pushes it with `--wait`. */
async function pushCustomers(name: string, text: string): Promise<Run> {
  const folder = await mkdtemp(join(tmpdir(), 'sdk-cli-'));
  try {
    const path = join(folder, name);
    await writeFile(path, text);
    return await erpImport([
      'push',
      path,
      '-e',
      'customers',
      '--wait',
      '--interval',
      '100',
    ]);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

describe('erp-import push', () => {
  it('pushes the Northwind customers, waits, prints the counts, exits 0', async () => {
    const run = await erpImport([
      'push',
      northwind,
      '--entity',
      'customers',
      '--wait',
      '--interval',
      '100',
    ]);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^[0-9a-f-]{36} completed\n/);
    expect(run.stdout).toContain('file northwind-customers.csv');
    expect(run.stdout).toContain(
      'read 91, inserted 91, updated 0, unchanged 0, rejected 0, deleted 0',
    );
  });

  it('names superseded records, so that the counts add up to read', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const folder = await mkdtemp(join(tmpdir(), 'sdk-cli-'));
    try {
      const path = join(folder, 'repeated-keys.csv');
      await writeFile(
        path,
        'customerID,companyName\nRK1,First\nRK2,Other\nRK1,Last\n',
      );
      const run = await erpImport(['push', path, '-e', 'customers', '--wait']);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(
        'read 3, inserted 2, updated 0, unchanged 0, superseded 1, ' +
          'rejected 0, deleted 0',
      );
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('prints the counts of each entity of a file with child records', async () => {
    const nfe = sharedData(
      'nfe-35180834128745000152550010000476861118934859.xml',
    );
    const run = await erpImport([
      'push',
      nfe,
      '-e',
      'nfe_invoices',
      '--format',
      'xml',
      '--wait',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('read 42, inserted 42');
    expect(run.stdout).toMatch(/^ {4}nfe_invoices: read 1, inserted 1,/m);
    expect(run.stdout).toMatch(
      /^ {4}nfe_invoice_items: read 41, inserted 41,/m,
    );
  });

  it('prints only the id without --wait, and status reads it back', async () => {
    const pushed = await erpImport([
      'push',
      northwind,
      '-e',
      'customers',
      '--url',
      stack.baseUrl,
      '--token',
      'token-b',
    ]);
    expect(pushed.code).toBe(0);
    const id = pushed.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    const status = await erpImport(['status', id, '--wait', '--json'], {
      ERP_IMPORT_TOKEN: 'token-b',
    });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      id,
      state: 'completed',
      counts: { read: 91 },
    });
  });

  it('exits 2 when rows were rejected, and errors lists them', async () => {
    const pushed = await pushCustomers(
      'some-bad.csv',
      'customerID,companyName\nOK1,Fine\nWAY-TOO-LONG-ID,Bad\nOK2,Fine\n',
    );
    expect(pushed.code).toBe(2);
    expect(pushed.stdout).toContain('rejected 1');
    const id = pushed.stdout.split(' ')[0]!;

    const errors = await erpImport(['errors', id]);
    expect(errors.code).toBe(0);
    // The header's missing columns come first, as a warning.
    expect(errors.stdout).toMatch(/^line 1: column_absent \(warning\)/);
    expect(errors.stdout).toMatch(/^line 3, customer_id: \w+: .+/m);
    expect(errors.stdout).toContain('"WAY-TOO-LONG-ID"');

    const csv = await erpImport(['errors', id, '--csv']);
    expect(csv.code).toBe(0);
    expect(csv.stdout.split('\n').filter(Boolean)).toHaveLength(3);
    expect(csv.stdout).toContain('WAY-TOO-LONG-ID');
  });

  it('says of a failed import what it rejected before it failed, exits 3', async () => {
    // Two rows too long for customer_id, then a quote never closed.
    const pushed = await pushCustomers(
      'broken-end.csv',
      'customerID,companyName\nOK1,Fine\nWAY-TOO-LONG-1,Bad\n' +
        'WAY-TOO-LONG-2,Bad\n"OK2,Fine\n',
    );
    expect(pushed.code).toBe(3);
    const id = pushed.stdout.split(' ')[0]!;
    expect(pushed.stdout).toContain(`${id} failed\n`);
    expect(pushed.stdout).toMatch(
      /\n {2}nothing applied; \d+ records read and 2 rejected before it failed\n/,
    );
    expect(pushed.stdout).toContain('failure MALFORMED_FILE');
    expect(pushed.stdout).toContain(`erp-import errors ${id}`);
    expect(pushed.stdout).not.toContain('inserted');

    const errors = await erpImport(['errors', id]);
    expect(errors.stdout).toContain('"WAY-TOO-LONG-1"');
    expect(errors.stdout).toContain('"WAY-TOO-LONG-2"');
  });

  it('lists the entities', async () => {
    const run = await erpImport(['entities']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('customers: Customers');
    expect(run.stdout).toContain('  customer_id text(10)');
  });
});

describe('exit codes', () => {
  it('64 for a wrong command line or a missing URL', async () => {
    expect((await erpImport(['push', northwind])).code).toBe(64);
    expect((await erpImport(['frobnicate'])).code).toBe(64);
    const noUrl = await erpImport(['entities'], { ERP_IMPORT_URL: '' });
    expect(noUrl.code).toBe(64);
    expect(noUrl.stderr).toContain('ERP_IMPORT_URL');
  });

  it('66 for a file that is not there', async () => {
    const run = await erpImport(['push', '/nowhere/x.csv', '-e', 'customers']);
    expect(run.code).toBe(66);
  });

  it('1 for a request the server refuses', async () => {
    const run = await erpImport(['status', 'no-such-import']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('NOT_FOUND');
  });

  it('4 when the server cannot be reached', async () => {
    const run = await erpImport(['--retries', '0', 'entities'], {
      ERP_IMPORT_URL: 'http://127.0.0.1:9',
    });
    expect(run.code).toBe(4);
    expect(run.stderr).toContain('could not be reached');
  });
});

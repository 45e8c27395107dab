import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
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

// `erp-import errors ID` printed the column twice and the value twice:
// `line 3, customer_id: too_long: customer_id: "WAY-TOO-LONG-ID" has 15
// characters; ... ["WAY-TOO-LONG-ID"]`, the message naming both already.
// Each is said once now.

const database = useTestDatabase('sdk_client_cli_errors');
const tsx = createRequire(import.meta.url).resolve('tsx/cli');
const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

let stack: RunningExample;
let folder: string;

beforeAll(async () => {
  stack = await startExample(database.url);
  folder = await mkdtemp(join(tmpdir(), 'sdk-cli-errors-'));
});

afterAll(async () => {
  await stack?.close();
  if (folder) await rm(folder, { recursive: true, force: true });
});

function erpImport(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [tsx, '--conditions=source', main, ...args],
      {
        env: {
          PATH: process.env.PATH,
          ERP_IMPORT_URL: stack.baseUrl,
          ERP_IMPORT_TOKEN: 'token-a',
        },
        timeout: 60_000,
      },
      (error, stdout) => {
        const code = error ? error.code : 0;
        if (typeof code !== 'number') reject(error ?? new Error('no exit'));
        else resolve({ code, out: stdout });
      },
    );
  });
}

const occurrences = (text: string, part: string) => text.split(part).length - 1;

describe('erp-import errors', () => {
  it('names the column and the value once per line', async () => {
    const path = join(folder, 'long-id.csv');
    await writeFile(
      path,
      'customerID,companyName\nOK1,Fine\nWAY-TOO-LONG-ID,Bad\n',
    );
    const pushed = await erpImport(['push', path, '-e', 'customers', '--wait']);
    expect(pushed.code).toBe(2);
    const id = pushed.out.split(' ')[0]!;

    const errors = await erpImport(['errors', id]);
    expect(errors.code).toBe(0);
    // The header's absent columns come first, as one warning.
    const [warning, line, ...rest] = errors.out.split('\n').filter(Boolean);
    expect(warning).toMatch(/^line 1: column_absent \(warning\)/);
    expect(rest).toEqual([]);
    expect(line).toMatch(/^line 3, customer_id: too_long: "WAY-TOO-LONG-ID"/);
    expect(occurrences(line!, 'customer_id')).toBe(1);
    expect(occurrences(line!, 'WAY-TOO-LONG-ID')).toBe(1);
  });
});

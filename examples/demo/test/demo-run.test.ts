import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { sharedPath } from '@erp-import/dev-services/shared-files';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, runScript } from './run-script.js';

// The demo end to end, as `npm run demo` runs it, on a test database:
// the generated files, their counts, and the exit code. The
// machine-checkable RESULT lines are what the assertions read.

const database = useTestDatabase('demo_run');
const runDemo = (args: string[]) =>
  runScript('examples/demo/src/main.ts', args, database.url);

function results(stdout: string): Array<Record<string, string>> {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('RESULT '))
    .map((line) =>
      Object.fromEntries(
        line
          .slice('RESULT '.length)
          .split(' ')
          .map((pair) => pair.split('=') as [string, string]),
      ),
    );
}

describe('npm run demo', () => {
  it('imports its generated files and exits 0', async () => {
    const run = await runDemo([]);
    expect(run.code, run.stderr).toBe(0);
    expect(results(run.stdout)).toEqual([
      expect.objectContaining({
        state: 'completed',
        read: '2006',
        inserted: '2000',
        rejected: '6',
      }),
      expect.objectContaining({
        state: 'completed',
        read: '2006',
        inserted: '0',
        updated: '0',
        unchanged: '2000',
        rejected: '6',
      }),
      expect.objectContaining({
        state: 'completed',
        read: '2002',
        inserted: '2',
        updated: '40',
        unchanged: '1960',
      }),
    ]);
    expect(run.stdout).toContain('[invalid_date]');
    // The row the table's CHECK refused, isolated with its constraint.
    expect(run.stdout).toContain('demo_prices_price_positive');
  });

  it('exits 1 when an --expect is not met', async () => {
    const file = sharedPath('data', 'northwind-customers.csv');
    const run = await runDemo([
      file,
      '--entity',
      'customers',
      '--expect',
      'read=90',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('expected read=90, got 91');
  });

  it('tells of a failed import in readable lines, one warning each', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const folder = await mkdtemp(join(tmpdir(), 'demo-broken-'));
    try {
      // A JSON array cut off after its first record.
      const file = join(folder, 'broken.json');
      await writeFile(file, '[{"productID": 1, "productName": "A"},{"pr');
      const run = await runDemo([file, '--entity', 'products']);
      expect(run.code).toBe(1);
      // Sent once: the same bytes would fail the same way.
      expect(results(run.stdout).map((result) => result['state'])).toEqual([
        'failed',
      ]);
      expect(run.stdout).toMatch(
        /\n {2}nothing applied; \d+ records read and \d+ rejected before it failed\n/,
      );
      // The engine's warning, as a line a person reads.
      const warnings = run.stderr
        .split('\n')
        .filter((line) => line.startsWith('WARN: '));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(
        /^WARN: import failed; nothing was applied \{"code":"MALFORMED_FILE",/,
      );
      expect(run.stderr).not.toMatch(/^\{"level"/m);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('exits 1 with one line, no stack trace, when FILE does not exist', async () => {
    const run = await runDemo(['no-such-file.csv', '--entity', 'customers']);
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(
      `No file at ${join(repoRoot, 'no-such-file.csv')} (FILE is read ` +
        `relative to the current directory, ${repoRoot.replace(/\/$/, '')}).`,
    );
  });
});

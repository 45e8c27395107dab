import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { sharedPath } from '@erp-import/dev-services/shared-files';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// A mistyped command line for `npm run demo` or `npm run large-import`
// ended in Node's stack trace (an unknown option), or was half ignored
// (`--entity` without a file ran the price-list demo). Each now says
// what is wrong in one line, the usage after it, and exits with 2,
// before anything starts; `--help` prints the usage and exits with 0.

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

async function run(script: string, args: string[]) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=source', script, ...args],
    {
      cwd: repoRoot,
      // Nothing should connect; were a check gone, nothing could.
      env: { ...process.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:9/x' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

const demo = 'examples/demo/src/main.ts';
const largeImport = 'examples/demo/src/large-import.ts';

describe('npm run demo with a command line it cannot run', () => {
  it.each([
    [
      [sharedPath('data', 'northwind-customers.csv'), '--entitty', 'x'],
      "Unknown option '--entitty'",
    ],
    [['--entity', 'customers'], '--entity goes with a FILE'],
    [['--format', 'json'], '--format goes with a FILE'],
    [['a.csv', 'b.csv', '--entity', 'customers'], 'One FILE at a time, not 2.'],
    [
      ['a.csv', '--entity', 'customers', '--format', 'yaml'],
      '--format must be one of csv, json, ndjson, xml, not "yaml"',
    ],
  ])('%j: one line, the usage, exit 2', async (args, message) => {
    const result = await run(demo, args);
    const [first, ...rest] = result.stderr.split('\n');
    expect(first).toContain(message);
    expect(rest.join('\n')).toContain('Usage: npm run demo');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe('');
    expect(result.code).toBe(2);
  });
});

describe('npm run large-import with a command line it cannot run', () => {
  it('prints its usage for --help and exits 0', async () => {
    const result = await run(largeImport, ['--help']);
    expect(result.stdout).toContain('Usage: npm run large-import');
    expect(result.stdout).toContain('--size-mb N');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it.each([
    [['--rowz', '5'], "Unknown option '--rowz'"],
    [['--format', 'yaml'], '--format must be csv, json or xml, not "yaml"'],
    [['--rows', 'many'], '--rows must be a positive integer, not "many"'],
    [
      ['--format', 'json', '--size-mb', '0'],
      '--size-mb must be a positive integer, not "0"',
    ],
    [
      ['--format', 'json', '--rows', '10'],
      '--rows does not apply to --format json; it is sized by --size-mb',
    ],
    [
      ['--size-mb', '5'],
      '--size-mb does not apply to --format csv; it is sized by --rows',
    ],
  ])('%j: one line, the usage, exit 2', async (args, message) => {
    const result = await run(largeImport, args);
    const [first, ...rest] = result.stderr.split('\n');
    expect(first).toContain(message);
    expect(rest.join('\n')).toContain('Usage: npm run large-import');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.code).toBe(2);
  });
});

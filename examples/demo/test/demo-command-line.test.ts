import { sharedPath } from '@erp-import/dev-services/shared-files';
import { describe, expect, it } from 'vitest';
import { runScript } from './run-script.js';

// A mistyped command line for `npm run demo` or `npm run large-import`
// ended in Node's stack trace (an unknown option), or was half ignored
// (`--entity` without a file ran the price-list demo). Each now says
// what is wrong in one line, the usage after it, and exits with 2,
// before anything starts; `--help` prints the usage and exits with 0.

// Nothing should connect; were a check gone, nothing could.
const nowhere = 'postgres://nobody@127.0.0.1:9/x';
const run = (script: string, args: string[]) =>
  runScript(script, args, nowhere);

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

// `npm run demo -- <file> --entity nope` started PostgreSQL and the
// server, then dumped the whole ErpImportApiError and a stack trace. It
// says in one line which entities the demo takes now, before starting
// anything.
describe('npm run demo with an entity it does not take', () => {
  it('lists the entities it takes in one line and exits 2', async () => {
    const result = await run(demo, [
      sharedPath('data', 'northwind-customers.csv'),
      '--entity',
      'nope',
    ]);

    expect(result.stderr).toBe(
      'Unknown entity "nope"; the demo takes ibpt_tax_rates, customers, ' +
        'demo_prices, products, nfe_invoices.\n',
    );
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

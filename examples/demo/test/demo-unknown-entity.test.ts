import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { sharedPath } from '@erp-import/dev-services/shared-files';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// `npm run demo -- <file> --entity nope` started PostgreSQL and the
// server, then dumped the whole ErpImportApiError and a stack trace. It
// says in one line which entities the demo takes now, before starting
// anything.

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

async function runDemo(args: string[]) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=source',
      'examples/demo/src/main.ts',
      ...args,
    ],
    {
      cwd: repoRoot,
      // Nothing should connect; were the check gone, nothing could.
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

describe('npm run demo with an entity it does not take', () => {
  it('lists the entities it takes in one line and exits 2', async () => {
    const run = await runDemo([
      sharedPath('data', 'northwind-customers.csv'),
      '--entity',
      'nope',
    ]);

    expect(run.stderr).toBe(
      'Unknown entity "nope"; the demo takes ibpt_tax_rates, customers, ' +
        'demo_prices, products, nfe_invoices.\n',
    );
    expect(run.stdout).toBe('');
    expect(run.code).toBe(2);
  });
});

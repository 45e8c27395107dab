import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The example server and worker started without DATABASE_URL printed a
// Node stack trace (and npm its own lines after it). They say what is
// missing in one line on stderr now, and exit with 78 (EX_CONFIG). The
// same holds for a malformed setting.

const tsx = createRequire(import.meta.url).resolve('tsx/cli');
const programs = [
  {
    name: 'erp-import-server',
    main: fileURLToPath(new URL('../src/main.ts', import.meta.url)),
  },
  {
    name: 'erp-import-worker',
    main: fileURLToPath(new URL('../../worker/src/main.ts', import.meta.url)),
  },
];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(main: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [tsx, '--conditions=source', main],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (error.code as number | null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe.each(programs)('$name with a bad configuration', ({ name, main }) => {
  it('says that DATABASE_URL is missing in one line, and exits 78', async () => {
    const run = await start(main, {});
    expect(run.stderr).toBe(
      `${name}: DATABASE_URL is required (postgres://user@host/db)\n`,
    );
    expect(run.stdout).toBe('');
    expect(run.code).toBe(78);
  });

  it('names a malformed setting the same way', async () => {
    const run = await start(main, {
      DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none',
      ERP_IMPORT_CONCURRENCY: 'two',
    });
    expect(run.stderr).toBe(
      `${name}: ERP_IMPORT_CONCURRENCY must be a positive integer, not "two"\n`,
    );
    expect(run.code).toBe(78);
  });
});

import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';

// The example server and worker started without DATABASE_URL printed a
// Node stack trace (and npm its own lines after it). They say what is
// missing in one line on stderr now, and exit with 78 (EX_CONFIG). The
// same holds for a malformed setting; a database they cannot reach or
// enter is said in one line too, with 69 (EX_UNAVAILABLE).

// Its server, for a database name that is not there.
const database = useTestDatabase('bad_config');

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

  it.each([
    [
      { DATABASE_URL: 'notaurl' },
      'DATABASE_URL is not a postgres:// URL (postgres://user@host/db)',
    ],
    [
      { ERP_IMPORT_QUEUE: 'redis' },
      'ERP_IMPORT_QUEUE=redis needs REDIS_URL (redis://host:6379)',
    ],
    [
      {
        ERP_IMPORT_QUEUE: 'redis',
        REDIS_URL: 'http://u:hidden@127.0.0.1:6379',
      },
      'REDIS_URL is not a redis:// URL (redis://host:6379)',
    ],
    [
      { ERP_IMPORT_TOKENS: 'ok:acme,hidden' },
      'ERP_IMPORT_TOKENS: pair 2 of 2 is not token:tenant',
    ],
    [
      { ERP_IMPORT_TOKENS: 'hidden:acme,hidden:globex' },
      'ERP_IMPORT_TOKENS: pair 2 of 2 repeats the token of an earlier pair',
    ],
    [
      { DATABASE_URL: 'mysql://root:hidden@127.0.0.1/x' },
      'DATABASE_URL is not a postgres:// URL (postgres://user@host/db)',
    ],
    [{ PORT: '99999' }, 'PORT must be at most 65535, not "99999"'],
    [{ PORT: '0x10' }, 'PORT must be a positive integer, not "0x10"'],
    [
      { ERP_IMPORT_CONCURRENCY: '1e1' },
      'ERP_IMPORT_CONCURRENCY must be a positive integer, not "1e1"',
    ],
    [
      { LOG_LEVEL: 'loud' },
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, ' +
        'silent, not "loud"',
    ],
  ])('names %o in one line, before it connects', async (env, message) => {
    const run = await start(main, {
      DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none',
      ...env,
    });
    expect(run.stderr).toBe(`${name}: ${message}\n`);
    // A secret in a setting is never quoted back.
    expect(run.stderr).not.toContain('hidden');
    expect(run.code).toBe(78);
  });

  it('takes an empty setting for an unset one', async () => {
    const run = await start(main, {
      DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none',
      ERP_IMPORT_TOKENS: 'secret:acme',
      ERP_IMPORT_QUEUE: '',
      LOG_LEVEL: '',
      PORT: '  ',
    });
    // Past the settings, to the database on port 9.
    expect(run.stderr).toContain('ECONNREFUSED');
    expect(run.code).toBe(69);
  });

  it('says in one line that the database cannot be reached, and exits 69', async () => {
    // Port 9 (discard) has no PostgreSQL: the connection is refused.
    const run = await start(main, {
      DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none',
      ERP_IMPORT_TOKENS: 'secret:acme',
    });
    expect(run.stderr).toBe(
      `${name}: the database in DATABASE_URL cannot be used: ` +
        'connect ECONNREFUSED 127.0.0.1:9\n',
    );
    expect(run.stdout).toBe('');
    expect(run.code).toBe(69);
  });

  it.each([
    [
      'a database that does not exist',
      (url: URL) => (url.pathname = '/erp_import_no_such_database'),
      'database "erp_import_no_such_database" does not exist',
    ],
    [
      'a bad option in the URL',
      (url: URL) => url.searchParams.set('options', '-c statement_timeout=abc'),
      'invalid value for parameter "statement_timeout": "abc"',
    ],
  ])('says so for %s', async (_case, change, reason) => {
    const url = new URL(database.url);
    change(url);
    const run = await start(main, {
      DATABASE_URL: url.href,
      ERP_IMPORT_TOKENS: 'secret:acme',
    });
    expect(run.stderr).toBe(
      `${name}: the database in DATABASE_URL cannot be used: ${reason}\n`,
    );
    expect(run.code).toBe(69);
  });

  it('says so for a server that is not PostgreSQL', async () => {
    // It greets and hangs up, as another service on the port might.
    const other = createServer((socket) => socket.end('+OK hello\r\n'));
    other.listen(0, '127.0.0.1');
    await once(other, 'listening');
    const { port } = other.address() as AddressInfo;
    try {
      const run = await start(main, {
        DATABASE_URL: `postgres://nobody:hidden@127.0.0.1:${port}/x`,
        ERP_IMPORT_TOKENS: 'secret:acme',
      });
      expect(run.stderr).toMatch(
        new RegExp(
          `^${name}: the database in DATABASE_URL cannot be used: .+\n$`,
        ),
      );
      expect(run.stderr).not.toContain('hidden');
      expect(run.code).toBe(69);
    } finally {
      other.close();
    }
  });
});

describe('erp-import-server on a port another process holds', () => {
  it('says so in one line, and exits 69', async () => {
    const holder = createServer();
    holder.listen(0);
    await once(holder, 'listening');
    const { port } = holder.address() as AddressInfo;
    try {
      const run = await start(programs[0]!.main, {
        DATABASE_URL: database.url,
        ERP_IMPORT_TOKENS: 'secret:acme',
        PORT: String(port),
      });
      expect(run.stderr).toMatch(
        new RegExp(
          `^erp-import-server: cannot listen on port ${port}: .*EADDRINUSE.*\n$`,
        ),
      );
      expect(run.code).toBe(69);
    } finally {
      holder.close();
    }
  });
});

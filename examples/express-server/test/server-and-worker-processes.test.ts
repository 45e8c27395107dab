import { freePort } from '@erp-import/dev-services';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { importRecordSchema, problemSchema } from '@erp-import/core/contract';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedData } from './example-harness.js';

// The example server and worker as their `npm start` runs them: two
// processes configured by environment variables, sharing only the
// database. Progress written by the worker is read through the server.

const database = useTestDatabase('example_processes');
const examplesRoot = fileURLToPath(new URL('../../', import.meta.url));

let server: ChildProcess;
let worker: ChildProcess;
let baseUrl: string;
const output: string[] = [];

function start(folder: string, env: NodeJS.ProcessEnv): ChildProcess {
  // What `tsx --conditions=source src/main.ts` runs, without tsx's own
  // wrapper process, so signals reach the program itself.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=source', 'src/main.ts'],
    {
      cwd: `${examplesRoot}${folder}`,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  return child;
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  return code;
}

beforeAll(async () => {
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  const env = {
    DATABASE_URL: database.url,
    PORT: String(port),
    ERP_IMPORT_TOKENS: 'token-a:tenant-a, token-b:tenant-b',
    ERP_IMPORT_MAX_UPLOAD_BYTES: String(1024 * 1024),
    LOG_LEVEL: 'warn',
  };
  // Both start at once on an empty database, as they would in production.
  server = start('express-server', env);
  worker = start('worker', env);

  // Started once it answers; a process that died says why.
  for (;;) {
    if (server.exitCode !== null || worker.exitCode !== null) {
      throw new Error(`a process exited:\n${output.join('')}`);
    }
    const ok = await fetch(`${baseUrl}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
});

afterAll(async () => {
  if (process.env.DEBUG_EXAMPLE_OUTPUT) console.log(output.join(''));
  if (server) await stop(server);
  if (worker) await stop(worker);
});

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

describe('the example server and worker processes', () => {
  it('refuses requests without a known token', async () => {
    const response = await fetch(`${baseUrl}/imports`);
    expect(response.status).toBe(401);
    const other = await fetch(`${baseUrl}/imports`, { headers: auth('x') });
    expect(problemSchema.parse(await other.json()).code).toBe('UNAUTHORIZED');
  });

  it('imports an upload in the worker process', async () => {
    const body = await readFile(sharedData('northwind-customers.csv'));
    const response = await fetch(
      `${baseUrl}/imports?entity=customers&format=csv`,
      { method: 'POST', headers: auth('token-a'), body },
    );
    expect(response.status).toBe(202);
    const accepted = importRecordSchema.parse(await response.json());
    expect(response.headers.get('location')).toBe(`/imports/${accepted.id}`);

    let record = accepted;
    while (record.state === 'queued' || record.state === 'processing') {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const polled = await fetch(`${baseUrl}/imports/${accepted.id}`, {
        headers: auth('token-a'),
      });
      record = importRecordSchema.parse(await polled.json());
    }
    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({ read: 91, inserted: 91 });
    expect(record.progress.phase).toBe('done');

    // The other tenant sees neither the import nor it in its list.
    const foreign = await fetch(`${baseUrl}/imports/${accepted.id}`, {
      headers: auth('token-b'),
    });
    expect(foreign.status).toBe(404);
    const list = await fetch(`${baseUrl}/imports`, {
      headers: auth('token-b'),
    });
    expect(((await list.json()) as { items: unknown[] }).items).toEqual([]);

    const csv = await fetch(
      `${baseUrl}/imports/${accepted.id}/errors?format=csv`,
      { headers: auth('token-a') },
    );
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
  });

  it('refuses an upload over ERP_IMPORT_MAX_UPLOAD_BYTES with 413', async () => {
    const body = await readFile(sharedData('TabelaIBPTaxSP23.2.A.csv'));
    expect(body.length).toBeGreaterThan(1024 * 1024);
    const response = await fetch(
      `${baseUrl}/imports?entity=ibpt_tax_rates&format=csv`,
      { method: 'POST', headers: auth('token-a'), body },
    );
    expect(response.status).toBe(413);
    expect(problemSchema.parse(await response.json()).code).toBe(
      'PAYLOAD_TOO_LARGE',
    );
  });

  it('stops cleanly on SIGTERM', async () => {
    expect(await stop(worker)).toBe(0);
    expect(await stop(server)).toBe(0);
  });
});

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './run-script.js';

// Ctrl-C under `npm run demo` reaches the demo more than once: the
// terminal signals the whole group, and npm and tsx pass it on. The
// first SIGINT started the cleanup and the second, with no listener
// left, ended the process before it: the embedded PostgreSQL's folder
// stayed in the temporary directory.

describe('npm run demo interrupted', () => {
  it('stops once, whatever the number of SIGINTs, and leaves no folder', async () => {
    const env = { ...process.env };
    delete env['DATABASE_URL'];
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=source', 'examples/demo/src/main.ts'],
      { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const port = await new Promise<number>((found, fail) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /PostgreSQL on port (\d+)\./.exec(stdout);
        if (match) found(Number(match[1]));
      });
      child.once('exit', () => fail(new Error(`demo ended: ${stdout}`)));
    });

    const client = new pg.Client({
      connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    });
    await client.connect();
    const { rows } = await client.query<{ setting: string }>(
      "SELECT setting FROM pg_settings WHERE name = 'data_directory'",
    );
    await client.end();
    const directory = rows[0]!.setting;
    expect(existsSync(directory)).toBe(true);

    const exited = once(child, 'exit') as Promise<[number | null]>;
    child.kill('SIGINT');
    child.kill('SIGINT');
    const [code] = await exited;

    expect(stdout + stderr).toContain('Interrupted; stopping.');
    expect(code, stdout + stderr).toBe(130);
    expect(existsSync(directory)).toBe(false);
  }, 90_000);
});

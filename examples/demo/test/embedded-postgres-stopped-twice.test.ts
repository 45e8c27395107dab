import { startEmbeddedPostgres } from '@erp-import/dev-services';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';

// Ctrl-C in a terminal reaches the whole process group: the embedded
// PostgreSQL of the demo or of large-import stops on it by itself,
// before the script's own handler asks it to. The package's stop() then
// waited for an exit that had already happened, the script's last await
// never settled, and its data folder (hundreds of MB) stayed behind.

async function dataDirectoryOf(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ setting: string }>(
      "SELECT setting FROM pg_settings WHERE name = 'data_directory'",
    );
    return rows[0]!.setting;
  } finally {
    await client.end();
  }
}

describe('an embedded PostgreSQL stopped by Ctrl-C before its handle', () => {
  it('stops, and its folder goes, when the script asks afterwards', async () => {
    const embedded = await startEmbeddedPostgres();
    const directory = await dataDirectoryOf(embedded.url);
    const pid = Number(
      (await readFile(join(directory, 'postmaster.pid'), 'utf8')).split(
        '\n',
      )[0],
    );

    // What the terminal's Ctrl-C does to the server: a fast shutdown.
    process.kill(pid, 'SIGINT');
    while (isAlive(pid)) await new Promise((done) => setTimeout(done, 50));

    // Two callers, as the script's signal handler and its own end.
    await Promise.all([embedded.stop(), embedded.stop()]);
    expect(existsSync(directory)).toBe(false);
  }, 60_000);
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

import { waitFor } from '@erp-import/core/testing';
import {
  startEmbeddedPostgres,
  type EmbeddedPostgresHandle,
} from '@erp-import/dev-services';
import { createExampleHost } from '@erp-import/example-definitions';
import pg from 'pg';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The demo stops its pool, then its embedded PostgreSQL. pool.end()
// resolved before the pool's connections had closed, so about one run in
// twelve PostgreSQL terminated them (57P01) and the demo ended with a
// "pg pool error" warning that printed the whole pg client, kilobytes of
// it. The host's close() now waits for the last connection, and a pool
// error is one short line.

let embedded: EmbeddedPostgresHandle;

beforeAll(async () => {
  embedded = await startEmbeddedPostgres();
});

afterAll(async () => {
  await embedded?.stop();
});

/** A pino logger, as the demo's, writing its lines into `lines`. */
function collectingLogger(lines: string[]) {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  return pino({ level: 'warn' }, destination);
}

async function openHost(lines: string[]) {
  const host = await createExampleHost(
    { databaseUrl: embedded.url, queue: 'pg', maxUploadBytes: undefined },
    collectingLogger(lines),
  );
  // Every connection of the pool in use at once, then idle in the pool.
  await Promise.all(
    Array.from({ length: 10 }, () => host.pool.query('SELECT pg_sleep(0.05)')),
  );
  return host;
}

describe('the example host stopping before its PostgreSQL', () => {
  it('logs a connection PostgreSQL terminates as one short line', async () => {
    const lines: string[] = [];
    const host = await openHost(lines);

    const admin = new pg.Client({ connectionString: embedded.url });
    await admin.connect();
    try {
      // What a stopping server does to every connection.
      const { rows } = await admin.query<{ n: number }>(`
        SELECT count(pg_terminate_backend(pid))::int AS n
        FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`);
      expect(rows[0]!.n).toBeGreaterThan(0);
    } finally {
      await admin.end();
    }

    const line = await waitFor(() => lines[0], {
      description: 'the pool error in the log',
    });
    expect(JSON.parse(line)).toMatchObject({
      level: 40,
      code: '57P01',
      msg: expect.stringMatching(
        /^pg pool error: terminating connection due to administrator command/,
      ),
    });
    for (const each of lines) expect(each.length).toBeLessThan(400);
    await host.close();
  });

  it('has closed every connection when close() resolves, so PostgreSQL can stop', async () => {
    const lines: string[] = [];
    const host = await openHost(lines);
    // The pool emits 'remove' once a client's connection has ended.
    let closedConnections = 0;
    host.pool.on('remove', () => {
      closedConnections += 1;
    });
    const connections = host.pool.totalCount;
    expect(connections).toBeGreaterThan(1);

    await host.close();
    expect(closedConnections).toBe(connections);

    // As the demo goes on: PostgreSQL stops, and nothing is left to say.
    await embedded.stop();
    expect(lines).toEqual([]);
  });
});

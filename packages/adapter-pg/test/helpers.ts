import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface ChildWorker {
  process: ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  stderr: () => string;
  kill(): Promise<void>;
}

/** Runs a TypeScript fixture with tsx, resolving packages to their src/. */
export function startChild(
  script: string,
  env: Record<string, string>,
): ChildWorker {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=source', script],
    {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  let pending = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    pending += text;
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    lines.push(...parts);
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => resolve()),
  );

  return {
    process: child,
    lines,
    stderr: () => stderr,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
      }
      await exited;
    },
  };
}

/** The fixture that runs the engine's worker on the PostgreSQL adapters. */
export const importWorkerScript = fileURLToPath(
  new URL('./fixtures/import-worker-process.ts', import.meta.url),
);

/** Waits until a child printed `line`, naming its stderr if it never does. */
export async function waitForLine(
  child: ChildWorker,
  line: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!child.lines.includes(line)) {
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for "${line}"; stderr: ${child.stderr()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A pool for a test file. The file's database is dropped WITH (FORCE)
 * right after the pool ends, and a connection still closing then reports
 * "terminating connection" as an error event; the pool swallows those so
 * teardown does not fail a passing file.
 */
export function createTestPool(url: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => undefined);
  return pool;
}

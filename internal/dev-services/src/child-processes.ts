import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@erp-import/core/testing';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** A TypeScript fixture running in its own process, as a test sees it. */
export interface ChildWorker {
  process: ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  stderr: () => string;
  /** SIGKILLs the child (unless it is gone) and waits for its exit. */
  kill(): Promise<void>;
}

/** Runs a TypeScript fixture with tsx, resolving packages to their src/. */
export function startChild(
  script: string | URL,
  env: Record<string, string>,
): ChildWorker {
  const path = typeof script === 'string' ? script : fileURLToPath(script);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=source', path],
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

/** Waits until `child` has printed `line`; names its stderr on timeout. */
export async function waitForLine(
  child: ChildWorker,
  line: string,
  timeoutMs = 30_000,
): Promise<void> {
  try {
    await waitFor(() => child.lines.includes(line), {
      timeoutMs,
      description: `"${line}"`,
    });
  } catch (error) {
    // The stderr as it is at the timeout, where the child's failure shows.
    throw new Error(
      `${(error as Error).message}; stderr: ${child.stderr().slice(-2000)}`,
      { cause: error },
    );
  }
}

/** Lines `prefix <importId>...` printed by every worker, in print order. */
export function linesFor(
  workers: readonly ChildWorker[],
  prefix: string,
  importId: string,
): string[] {
  return workers.flatMap((worker) =>
    worker.lines.filter((line) => line.startsWith(`${prefix} ${importId}`)),
  );
}

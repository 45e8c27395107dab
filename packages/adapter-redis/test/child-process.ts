import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@erp-import/core/testing';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export const importWorkerScript = fileURLToPath(
  new URL('./fixtures/import-worker-process.ts', import.meta.url),
);

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

/** Waits until `child` has printed `line`; names its stderr on timeout. */
export async function waitForLine(
  child: ChildWorker,
  line: string,
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(() => child.lines.includes(line), {
    timeoutMs,
    description: `"${line}" (stderr: ${child.stderr().slice(-2000)})`,
  });
}

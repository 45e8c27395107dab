import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** The repository's root, where `npm run demo` runs its scripts. */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs one of the demo's scripts as `npm run` does (tsx, the sources),
 * from the repository's root, with `databaseUrl` as DATABASE_URL, and
 * gives back its exit code and output.
 */
export async function runScript(
  script: string,
  args: string[],
  databaseUrl: string,
): Promise<ScriptRun> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=source', script, ...args],
    {
      cwd: repoRoot,
      env: { ...process.env, DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

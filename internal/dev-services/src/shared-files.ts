import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The real sample files (`data/`, `cases/`) that tests, the bench and CI
// read live outside the repository, in a `shared` folder beside it, so
// they are never copied in. One rule finds it, wherever the repository
// was cloned: ERP_IMPORT_SHARED_DIR when set, else <repo root>/../shared.

/** This file is internal/dev-services/src/, three folders below the root. */
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The folder of shared sample files. Throws, saying where it looked,
 * when that folder does not exist.
 */
export function sharedDir(): string {
  const fromEnvironment = process.env.ERP_IMPORT_SHARED_DIR;
  const given = fromEnvironment !== undefined && fromEnvironment !== '';
  const directory = given
    ? resolve(fromEnvironment)
    : resolve(repoRoot, '..', 'shared');

  if (!isDirectory(directory)) {
    throw new Error(
      given
        ? `ERP_IMPORT_SHARED_DIR is ${directory}, which is not a folder; ` +
            `point it at the folder of the shared sample files ` +
            `(data/, cases/).`
        : `The shared sample files (data/, cases/) are not at ${directory}, ` +
            `../shared beside the repository; put them there, or set ` +
            `ERP_IMPORT_SHARED_DIR to the folder that holds them.`,
    );
  }
  return directory;
}

/** A path inside the shared folder: `sharedPath('data', 'x.csv')`. */
export function sharedPath(...segments: string[]): string {
  return join(sharedDir(), ...segments);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

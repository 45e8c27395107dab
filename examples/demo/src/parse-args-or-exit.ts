import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * `parseArgs` for the demo's scripts: an unknown option, or one without
 * its value, is said in one line with the usage after it, and the script
 * exits with 2, as a mistyped command line should; `--help` prints the
 * usage alone and exits with 0.
 */
export function parseArgsOrExit<T extends ParseArgsConfig>(
  config: T,
  usage: string,
): ReturnType<typeof parseArgs<T>> {
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseArgs(config);
  } catch (error) {
    // Node's own message names the option and, for a typo, what it takes.
    const message = error instanceof Error ? error.message : String(error);
    failUsage(message, usage);
  }
  const values = parsed.values as Record<string, unknown>;
  if (values['help'] === true) {
    console.log(usage);
    process.exit(0);
  }
  return parsed;
}

/** A command line that cannot run: one line, the usage, exit code 2. */
export function failUsage(message: string, usage: string): never {
  console.error(`${message}\n`);
  console.error(usage);
  process.exit(2);
}

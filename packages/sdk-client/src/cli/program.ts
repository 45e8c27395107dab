import {
  importFormats,
  type PublicImportRecord,
} from '@erp-import/core/contract';
import {
  Command,
  CommanderError,
  InvalidArgumentError,
  Option,
} from 'commander';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import { ErpImportApiError, ErpImportNetworkError } from '../client-errors.js';
import { createClient, type NodeErpImportClient } from '../node.js';
import {
  describeEntity,
  describeImport,
  describeRowIssue,
} from './describe-output.js';
import { ExitCodes, exitCodeOf, type ExitCode } from './exit-codes.js';
import { createProgressDisplay } from './progress-display.js';

/**
 * The `erp-import` command line: push, status, errors, entities. It
 * answers with an exit code instead of exiting, so tests run it in
 * process and main.ts stays a line long.
 */
export interface CliContext {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  /** Aborts whatever runs (Ctrl-C). */
  signal?: AbortSignal;
  /** Draw progress bars; by default when stderr is a terminal. */
  progress?: boolean;
}

interface GlobalOptions {
  url?: string;
  token?: string;
  timeout?: number;
  retries?: number;
}

/** A command line that cannot run: exit 64 with the message. */
class UsageError extends Error {}

export async function runCli(
  argv: readonly string[],
  context: CliContext,
): Promise<ExitCode> {
  let exitCode: ExitCode = ExitCodes.OK;
  const program = buildProgram(context, (code) => {
    exitCode = code;
  });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    return reportError(error, context);
  }
}

function buildProgram(
  context: CliContext,
  finish: (code: ExitCode) => void,
): Command {
  const { stdout, stderr } = context;
  const program = new Command('erp-import')
    .description(
      'Send ERP export files to an erp-import server and follow them.',
    )
    .option('--url <url>', 'the server (or ERP_IMPORT_URL)')
    .option('--token <token>', 'the bearer token (or ERP_IMPORT_TOKEN)')
    .option('--timeout <ms>', 'per-request timeout', positiveInteger)
    .option('--retries <n>', 'retries after a failed attempt', naturalNumber)
    // Errors and help go through the context, and never exit by themselves.
    .exitOverride()
    .configureOutput({
      writeOut: (text) => stdout.write(text),
      writeErr: (text) => stderr.write(text),
    })
    .showHelpAfterError('(run erp-import --help for usage)')
    .addHelpText('after', exitCodesHelp);

  // Read here rather than by commander, so a test can pass its own.
  const env = context.env;

  program
    .command('push')
    .description('upload a file and queue its import')
    .argument('<file>', 'the file to send (.csv, .json, .ndjson, .xml, .gz)')
    .requiredOption('-e, --entity <entity>', 'what the file holds')
    .addOption(
      new Option(
        '-f, --format <format>',
        'from the extension by default',
      ).choices(importFormats),
    )
    .option('-w, --wait', 'wait until the import ends; exit by its result')
    .option('--gzip', 'compress while sending')
    .option('--encoding <name>', 'the file encoding (detected by default)')
    .option('--delimiter <char>', 'the CSV delimiter (detected by default)')
    .option('--idempotency-key <key>', 'name this upload (a UUID by default)')
    .option('--interval <ms>', 'polling interval with --wait', positiveInteger)
    .option('--json', 'print the import record as JSON')
    .action(async (file: string, options: PushOptions, command: Command) => {
      const client = clientOf(command, env, context);
      const display = createProgressDisplay(stderr, showProgress(context));
      try {
        const accepted = await client.imports.create({
          entity: options.entity,
          file,
          ...(options.format !== undefined && { format: options.format }),
          ...(options.gzip && { gzip: true }),
          ...(options.encoding !== undefined && { encoding: options.encoding }),
          ...(options.delimiter !== undefined && {
            delimiter: options.delimiter,
          }),
          ...(options.idempotencyKey !== undefined && {
            idempotencyKey: options.idempotencyKey,
          }),
          ...(context.signal && { signal: context.signal }),
          onUploadProgress: (progress) => display.uploading(progress),
        });
        display.uploaded();

        if (!options.wait) {
          // The id alone on stdout: `id=$(erp-import push ...)` works.
          stdout.write(
            options.json ? `${JSON.stringify(accepted)}\n` : `${accepted.id}\n`,
          );
          return;
        }
        const record = await waitFor(client, accepted.id, options, context, {
          onProgress: (current) => display.processing(current),
        });
        display.stop();
        printRecord(stdout, record, options.json);
        finish(exitCodeOf(record));
      } finally {
        display.stop();
      }
    });

  program
    .command('status')
    .description("show an import's state and counts")
    .argument('<id>', 'the import id')
    .option('-w, --wait', 'wait until the import ends')
    .option('--interval <ms>', 'polling interval with --wait', positiveInteger)
    .option('--json', 'print the import record as JSON')
    .action(async (id: string, options: StatusOptions, command: Command) => {
      const client = clientOf(command, env, context);
      const display = createProgressDisplay(stderr, showProgress(context));
      try {
        const record = options.wait
          ? await waitFor(client, id, options, context, {
              onProgress: (current) => display.processing(current),
            })
          : await client.imports.get(id, signalOf(context));
        display.stop();
        printRecord(stdout, record, options.json);
        finish(exitCodeOf(record));
      } finally {
        display.stop();
      }
    });

  program
    .command('errors')
    .description("list an import's rejected rows")
    .argument('<id>', 'the import id')
    .option('--csv', 'every entry as CSV, as the server writes it')
    .option('--json', 'one JSON object per line')
    .action(async (id: string, options: ErrorsOptions, command: Command) => {
      const client = clientOf(command, env, context);
      if (options.csv) {
        const csv = await client.imports.errorsCsv(id, signalOf(context));
        await pipeline(
          Readable.fromWeb(csv as NodeWebReadableStream<Uint8Array>),
          stdout,
          { end: false },
        );
        return;
      }
      for await (const issue of client.imports.errorRows(
        id,
        {},
        signalOf(context),
      )) {
        stdout.write(
          options.json ? `${JSON.stringify(issue)}\n` : describeRowIssue(issue),
        );
      }
    });

  program
    .command('entities')
    .description('list the entities the server takes, with their columns')
    .option('--json', 'print them as JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const client = clientOf(command, env, context);
      const entities = await client.entities.list(signalOf(context));
      if (options.json) {
        stdout.write(`${JSON.stringify(entities, null, 2)}\n`);
        return;
      }
      stdout.write(entities.map(describeEntity).join('\n'));
    });

  return program;
}

interface PushOptions {
  entity: string;
  format?: (typeof importFormats)[number];
  wait?: boolean;
  gzip?: boolean;
  encoding?: string;
  delimiter?: string;
  idempotencyKey?: string;
  interval?: number;
  json?: boolean;
}

interface StatusOptions {
  wait?: boolean;
  interval?: number;
  json?: boolean;
}

interface ErrorsOptions {
  csv?: boolean;
  json?: boolean;
}

function clientOf(
  command: Command,
  env: NodeJS.ProcessEnv,
  context: CliContext,
): NodeErpImportClient {
  const options = command.optsWithGlobals<GlobalOptions>();
  const url = options.url ?? env.ERP_IMPORT_URL;
  const token = options.token ?? env.ERP_IMPORT_TOKEN;
  if (!url) throw new UsageError('no server: pass --url or set ERP_IMPORT_URL');
  if (!token) {
    throw new UsageError('no token: pass --token or set ERP_IMPORT_TOKEN');
  }
  if (!/^https?:\/\//i.test(url)) {
    throw new UsageError(`--url must be an http(s) URL, not "${url}"`);
  }

  return createClient({
    baseUrl: url,
    token,
    ...(options.timeout !== undefined && { timeoutMs: options.timeout }),
    ...(options.retries !== undefined && {
      retry: { retries: options.retries },
    }),
    onRetry: ({ attempt, delayMs, error }) => {
      // Under a progress bar, start a line of its own.
      const lineBreak = showProgress(context) ? '\n' : '';
      const seconds = (delayMs / 1000).toFixed(1);
      context.stderr.write(
        `${lineBreak}${error.message}; attempt ${attempt} in ${seconds} s\n`,
      );
    },
  });
}

function waitFor(
  client: NodeErpImportClient,
  id: string,
  options: { interval?: number },
  context: CliContext,
  hooks: { onProgress: (record: PublicImportRecord) => void },
): Promise<PublicImportRecord> {
  return client.imports.wait(id, {
    intervalMs: options.interval ?? 1000,
    onProgress: hooks.onProgress,
    ...signalOf(context),
  });
}

function signalOf(context: CliContext): { signal?: AbortSignal } {
  return context.signal ? { signal: context.signal } : {};
}

function showProgress(context: CliContext): boolean {
  return context.progress ?? context.stderr.isTTY === true;
}

function printRecord(
  stdout: NodeJS.WriteStream,
  record: PublicImportRecord,
  json: boolean | undefined,
): void {
  stdout.write(
    json ? `${JSON.stringify(record, null, 2)}\n` : describeImport(record),
  );
}

function reportError(error: unknown, context: CliContext): ExitCode {
  const say = (text: string) => context.stderr.write(`erp-import: ${text}\n`);

  if (error instanceof CommanderError) {
    // Help and --version end with exit code 0; the rest are usage errors,
    // already printed by commander.
    return error.exitCode === 0 ? ExitCodes.OK : ExitCodes.USAGE;
  }
  if (error instanceof UsageError) {
    say(error.message);
    return ExitCodes.USAGE;
  }
  if (context.signal?.aborted) {
    say('interrupted');
    return ExitCodes.INTERRUPTED;
  }
  if (error instanceof ErpImportApiError) {
    say(`${error.message} (${error.code})`);
    return ExitCodes.REFUSED;
  }
  if (error instanceof ErpImportNetworkError) {
    say(error.message);
    return ExitCodes.UNREACHABLE;
  }
  if (isFileError(error)) {
    say(`cannot read ${error.path ?? 'the file'}: ${error.code}`);
    return ExitCodes.NO_INPUT;
  }
  say(error instanceof Error ? error.message : String(error));
  return ExitCodes.REFUSED;
}

function isFileError(error: unknown): error is NodeJS.ErrnoException {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return (
    typeof (error as NodeJS.ErrnoException | undefined)?.syscall === 'string' &&
    (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR')
  );
}

function positiveInteger(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    throw new InvalidArgumentError('a positive integer is expected');
  }
  return value;
}

function naturalNumber(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    throw new InvalidArgumentError('a whole number is expected');
  }
  return value;
}

const exitCodesHelp = `
Settings: --url and --token, or ERP_IMPORT_URL and ERP_IMPORT_TOKEN.

Exit codes:
  0   done (with --wait or status: completed, no rejected row)
  1   the server refused the request (token, entity, unknown import)
  2   completed with rejected rows
  3   the import failed
  4   the server could not be reached or stopped answering
  5   the import was cancelled
  6   the import was reverted
  64  wrong command line
  66  the file cannot be read
  75  status: the import is still queued or processing
  130 interrupted
`;

#!/usr/bin/env node
import { runCli } from './program.js';

// `erp-import`: the command line on the SDK. Ctrl-C aborts the request or
// the wait in flight; the exit code says how it ended (see --help).
const interrupt = new AbortController();
process.once('SIGINT', () => interrupt.abort());

// A reader that stops early (`erp-import errors ID | head`) is not an
// error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});

runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: interrupt.signal,
}).then((code) => {
  process.exitCode = code;
});

import {
  createExampleHostOrExit,
  createExampleTables,
  readExampleConfigOrExit,
  unavailableExitCode,
} from '@erp-import/example-definitions';
import { once } from 'node:events';
import { pino } from 'pino';
import { createExampleApp } from './app.js';

// The example API server: `npm start` in this folder. Workers run apart
// (examples/worker); this process only takes uploads and answers reads.

const config = readExampleConfigOrExit('erp-import-server');
const logger = pino({ name: 'erp-import-server', level: config.logLevel });
const host = await createExampleHostOrExit('erp-import-server', config, logger);
// Once the database answered: a server that cannot start says only why.
if (config.tokens.size === 0) {
  logger.warn('ERP_IMPORT_TOKENS is empty: every request will get 401');
}
await createExampleTables(host.pool);

const app = createExampleApp(host.importer, {
  tokens: config.tokens,
  logger,
  ...(config.maxUploadBytes !== undefined && {
    maxUploadBytes: config.maxUploadBytes,
  }),
});
const server = app.listen(config.port);
try {
  await once(server, 'listening');
} catch (error) {
  // A port another process holds, or one this user may not take.
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `erp-import-server: cannot listen on port ${config.port}: ${message}\n`,
  );
  await host.close();
  process.exit(unavailableExitCode);
}
logger.info({ port: config.port }, 'listening');

async function shutdown(signal: string): Promise<void> {
  logger.info({ signal }, 'shutting down');

  // Stop taking connections, let the requests in flight finish, then
  // release the database.
  server.close();
  server.closeIdleConnections();
  await once(server, 'close');
  await host.close();
  logger.info('stopped');
}

// Every signal is heard, and only the first acts: `npm start` passes on
// the Ctrl-C the terminal sent the whole group, and a second SIGINT
// with no listener left would end the process halfway through.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    shutdown(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}

import {
  createExampleHostOrExit,
  createExampleTables,
  readExampleConfigOrExit,
} from '@erp-import/example-definitions';
import { pino } from 'pino';

// The example worker: `npm start` in this folder. Start as many as you
// like; the queue hands each import to one of them, in order per tenant
// and entity.

const config = readExampleConfigOrExit('erp-import-worker');
const logger = pino({ name: 'erp-import-worker', level: config.logLevel });

const host = await createExampleHostOrExit('erp-import-worker', config, logger);
await createExampleTables(host.pool);
const worker = await host.importer.startWorker({
  concurrency: config.concurrency,
});

async function shutdown(signal: string): Promise<void> {
  logger.info({ signal }, 'stopping: finishing the imports in hand');
  await worker.stop();
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

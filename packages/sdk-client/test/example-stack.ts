import { silentLogger, type ImportWorker } from '@erp-import/core';
import {
  createExampleHost,
  createExampleTables,
  type ExampleHost,
} from '@erp-import/example-definitions';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
// The example server's app, as `npm start` in examples/express-server
// builds it: the client is tested against the real host, not a stand-in.
import { createExampleApp } from '../../../examples/express-server/src/app.js';

/** A file of /work/shared/data, by name. */
export function sharedData(name: string): string {
  return fileURLToPath(
    new URL(`../../../../shared/data/${name}`, import.meta.url),
  );
}

export const tokens = new Map([
  ['token-a', 'tenant-a'],
  ['token-b', 'tenant-b'],
  ['token-c', 'tenant-c'],
]);

/**
 * The example server and a worker in this process, on PostgreSQL (the
 * pg adapters and the example tables in a test database).
 */
export interface ExampleStack {
  baseUrl: string;
  host: ExampleHost;
  /** Stops the worker, so an import stays queued. */
  pauseWorker(): Promise<void>;
  resumeWorker(): Promise<void>;
  close(): Promise<void>;
}

export async function startExampleStack(
  databaseUrl: string,
): Promise<ExampleStack> {
  const host = await createExampleHost(
    { databaseUrl, queue: 'pg', maxUploadBytes: undefined },
    silentLogger,
  );
  await createExampleTables(host.pool);

  const server: Server = createExampleApp(host.importer, { tokens }).listen(
    0,
    '127.0.0.1',
  );
  await once(server, 'listening');
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let worker: ImportWorker | undefined = await host.importer.startWorker({
    concurrency: 2,
  });

  return {
    baseUrl,
    host,
    async pauseWorker() {
      await worker?.stop();
      worker = undefined;
    },
    async resumeWorker() {
      worker ??= await host.importer.startWorker({ concurrency: 2 });
    },
    async close() {
      await worker?.stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await host.close();
    },
  };
}

/** `count` Northwind-shaped customers as CSV text. */
export function customersCsv(count: number, prefix = 'C'): string {
  const lines = [
    'customerID,companyName,contactName,contactTitle,address,city,region,' +
      'postalCode,country,phone,fax',
  ];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}${String(i).padStart(6, '0')}`;
    lines.push(
      `${id},Company ${i},Contact ${i},Owner,"Street ${i}, ${i % 97}",` +
        `City ${i % 13},NULL,${String(i % 100000).padStart(5, '0')},` +
        `Brazil,555-${i},NULL`,
    );
  }
  return lines.join('\n') + '\n';
}

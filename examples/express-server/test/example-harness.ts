import { silentLogger, type ImportWorker } from '@erp-import/core';
import {
  importRecordSchema,
  type ImportErrorPage,
  type PublicImportRecord,
} from '@erp-import/core/contract';
import {
  createExampleHost,
  createExampleTables,
  type ExampleHost,
} from '@erp-import/example-definitions';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sharedPath } from '@erp-import/dev-services/shared-files';
import { createExampleApp } from '../src/app.js';

/** A file of the shared sample files' data/ folder, by name. */
export function sharedData(name: string): string {
  return sharedPath('data', name);
}

export const tokens = new Map([
  ['token-a', 'tenant-a'],
  ['token-b', 'tenant-b'],
  ['token-c', 'tenant-c'],
]);

/**
 * The example server and a worker in this process, on a test database:
 * what `npm start` in examples/express-server and examples/worker build,
 * without the processes. The SDK client's tests run against it too
 * (`@erp-import/example-express-server/test-harness`), so the client is
 * tested against the real host, not a stand-in.
 */
export interface RunningExample {
  baseUrl: string;
  host: ExampleHost;
  /** Uploads a file and answers the accepted record. */
  upload(
    path: string,
    entity: string,
    token?: string,
  ): Promise<PublicImportRecord>;
  /** Polls until the import ends, and answers its last record. */
  finish(id: string, token?: string): Promise<PublicImportRecord>;
  errors(id: string, token?: string): Promise<ImportErrorPage>;
  /** Stops the worker, so an import stays queued. */
  pauseWorker(): Promise<void>;
  resumeWorker(): Promise<void>;
  close(): Promise<void>;
}

export interface ExampleOptions {
  /** As ERP_IMPORT_MAX_UPLOAD_BYTES sets it; no limit by default. */
  maxUploadBytes?: number;
}

export async function startExample(
  databaseUrl: string,
  queue: { kind: 'pg' } | { kind: 'redis'; url: string; prefix?: string } = {
    kind: 'pg',
  },
  options: ExampleOptions = {},
): Promise<RunningExample> {
  const { maxUploadBytes } = options;
  const host = await createExampleHost(
    {
      databaseUrl,
      queue: queue.kind,
      redisUrl: queue.kind === 'redis' ? queue.url : undefined,
      redisPrefix: queue.kind === 'redis' ? queue.prefix : undefined,
      maxUploadBytes,
    },
    silentLogger,
  );
  await createExampleTables(host.pool);
  const server: Server = createExampleApp(host.importer, {
    tokens,
    ...(maxUploadBytes !== undefined && { maxUploadBytes }),
  }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  let worker: ImportWorker | undefined = await host.importer.startWorker({
    concurrency: 2,
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });

  return {
    baseUrl,
    host,
    async upload(path, entity, token = 'token-a') {
      const response = await fetch(
        `${baseUrl}/imports?entity=${entity}&format=csv`,
        { method: 'POST', headers: auth(token), body: await readFile(path) },
      );
      if (response.status !== 202) {
        throw new Error(`upload: ${response.status} ${await response.text()}`);
      }
      return importRecordSchema.parse(await response.json());
    },
    async finish(id, token = 'token-a') {
      for (;;) {
        const response = await fetch(`${baseUrl}/imports/${id}`, {
          headers: auth(token),
        });
        const record = importRecordSchema.parse(await response.json());
        if (['completed', 'failed', 'cancelled'].includes(record.state)) {
          return record;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async errors(id, token = 'token-a') {
      const response = await fetch(`${baseUrl}/imports/${id}/errors`, {
        headers: auth(token),
      });
      return (await response.json()) as ImportErrorPage;
    },
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

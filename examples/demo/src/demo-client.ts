import type {
  ImportErrorPage,
  PublicImportRecord,
} from '@erp-import/core/contract';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';

/**
 * The few HTTP calls the demo makes, with fetch.
 * TODO: use @erp-import/sdk-client once it is written; it adds retries,
 * idempotency keys and typed errors, which the demo does not need.
 */
export interface DemoClient {
  upload(options: {
    path: string;
    entity: string;
    format?: string;
  }): Promise<PublicImportRecord>;
  get(id: string): Promise<PublicImportRecord>;
  errors(id: string, limit: number): Promise<ImportErrorPage>;
}

export function createDemoClient(baseUrl: string, token: string): DemoClient {
  const headers = { authorization: `Bearer ${token}` };

  async function json<T>(response: Response): Promise<T> {
    if (!response.ok) {
      throw new Error(
        `${response.status} ${response.statusText}: ${await response.text()}`,
      );
    }
    return (await response.json()) as T;
  }

  return {
    async upload({ path, entity, format }) {
      const query = new URLSearchParams({
        entity,
        format: format ?? formatOf(path),
        fileName: basename(path),
      });
      // The file streams from disk; a large one is never held in memory.
      const { size } = await stat(path);
      const response = await fetch(`${baseUrl}/imports?${query}`, {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/octet-stream',
          'content-length': String(size),
        },
        body: Readable.toWeb(createReadStream(path)) as ReadableStream,
        duplex: 'half',
      } as RequestInit);
      return json<PublicImportRecord>(response);
    },
    async get(id) {
      return json(await fetch(`${baseUrl}/imports/${id}`, { headers }));
    },
    async errors(id, limit) {
      return json(
        await fetch(`${baseUrl}/imports/${id}/errors?limit=${limit}`, {
          headers,
        }),
      );
    },
  };
}

/** csv unless the extension says otherwise. */
export function formatOf(path: string): string {
  const extension = /\.(json|ndjson|jsonl|xml)(\.gz)?$/i.exec(path)?.[1];
  if (!extension) return 'csv';
  const lower = extension.toLowerCase();
  return lower === 'jsonl' ? 'ndjson' : lower;
}

import {
  importRecordSchema,
  type PublicImportRecord,
} from '@erp-import/core/contract';
import { readFile } from 'node:fs/promises';
import type { RunningExample } from './example-harness.js';

/**
 * Uploads a file in any format to the running example, as the desktop
 * does, and waits for its import to end.
 */
export async function importThroughHttp(
  example: RunningExample,
  options: {
    path: string;
    entity: string;
    format: 'csv' | 'json' | 'ndjson' | 'xml';
    token?: string;
  },
): Promise<PublicImportRecord> {
  const query = new URLSearchParams({
    entity: options.entity,
    format: options.format,
  });
  const response = await fetch(`${example.baseUrl}/imports?${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${options.token ?? 'token-a'}` },
    body: await readFile(options.path),
  });
  if (response.status !== 202) {
    throw new Error(`upload: ${response.status} ${await response.text()}`);
  }
  const accepted = importRecordSchema.parse(await response.json());
  return example.finish(accepted.id, options.token);
}

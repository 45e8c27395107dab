import { randomUUID } from 'node:crypto';
import { emptyCounts, type ImportRecord } from '../ports/import-record.js';

/**
 * A complete, valid import record in state `queued`, for port tests.
 * `overrides` replace whole fields.
 */
export function sampleImportRecord(
  overrides: Partial<ImportRecord> = {},
): ImportRecord {
  const id = overrides.id ?? randomUUID();
  const tenant = overrides.tenant ?? 'tenant-a';
  const createdAt = overrides.createdAt ?? new Date().toISOString();
  return {
    id,
    tenant,
    entity: 'items',
    format: 'csv',
    state: 'queued',
    fileName: 'items.csv',
    submittedBy: 'user@example.com',
    idempotencyKey: null,
    fileKey: `${tenant}/${id}`,
    byteSize: 42,
    checksum: 'a'.repeat(64),
    options: {},
    detected: {},
    counts: emptyCounts(),
    progress: {
      bytesRead: 0,
      bytesTotal: 42,
      recordsRead: 0,
      recordsRejected: 0,
      phase: 'waiting',
      updatedAt: createdAt,
    },
    failure: null,
    attempts: 0,
    createdAt,
    startedAt: null,
    finishedAt: null,
    ...overrides,
  };
}

import { Readable } from 'node:stream';
import { createTestPool } from '@erp-import/dev-services/engine-harness';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { sampleImportRecord, waitFor } from '@erp-import/core/testing';
import type { ImportRecord } from '@erp-import/core';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgAdapters, type PgAdapters } from '../src/index.js';

const database = useTestDatabase('adapter_pg_retention');
let pool: pg.Pool;
let adapters: PgAdapters;

const hoursAgo = (hours: number) =>
  new Date(Date.now() - hours * 3_600_000).toISOString();

beforeAll(async () => {
  pool = createTestPool(database.url, 6);
  adapters = await createPgAdapters({ pool });
});

afterAll(async () => {
  await adapters.close();
  await pool.end();
});

async function importWithFile(overrides: Partial<ImportRecord>) {
  const record = sampleImportRecord(overrides);
  await adapters.fileStore.put(
    record.fileKey,
    Readable.from([Buffer.from('x')]),
  );
  await adapters.statusStore.create(record);
  await adapters.errorLog.append(record.id, [
    {
      severity: 'error',
      position: { recordNumber: 1, line: 2 },
      code: 'invalid_integer',
      message: 'not an integer',
    },
  ]);
  return record;
}

const hasFile = (record: ImportRecord) =>
  adapters.fileStore.open(record.fileKey).then(
    (stream) => (stream.destroy(), true),
    () => false,
  );

describe('file retention', () => {
  it('deletes the files of imports that ended before the cut, keeping records and errors', async () => {
    const old = await Promise.all(
      (['completed', 'failed', 'cancelled', 'reverted'] as const).map((state) =>
        importWithFile({
          state,
          createdAt: hoursAgo(5),
          finishedAt: hoursAgo(3),
        }),
      ),
    );
    const recent = await importWithFile({
      state: 'completed',
      createdAt: hoursAgo(2),
      finishedAt: hoursAgo(0.5),
    });
    const running = await importWithFile({
      state: 'processing',
      createdAt: hoursAgo(5),
    });
    const waiting = await importWithFile({
      state: 'queued',
      createdAt: hoursAgo(5),
    });

    const deleted = await adapters.fileStore.deleteFilesOlderThan(3_600_000);

    expect(deleted).toBe(4);
    for (const record of old) {
      expect(await hasFile(record)).toBe(false);
      expect(await adapters.statusStore.getById(record.id)).toEqual(record);
      expect(await adapters.errorLog.count(record.id)).toEqual({
        errors: 1,
        warnings: 0,
      });
    }
    for (const record of [recent, running, waiting]) {
      expect(await hasFile(record)).toBe(true);
    }
  });

  it('sweeps on its own when createPgAdapters is given fileRetentionMs', async () => {
    const swept = await createPgAdapters({ pool, fileRetentionMs: 1_000 });
    try {
      const record = await importWithFile({
        state: 'completed',
        createdAt: hoursAgo(1),
        finishedAt: hoursAgo(1),
      });
      await waitFor(async () => !(await hasFile(record)), {
        description: 'the sweep to delete the file',
      });
      expect(await swept.statusStore.getById(record.id)).toEqual(record);
    } finally {
      await swept.close();
    }
  });
});

import { Readable } from 'node:stream';
import { createTestPool } from '@erp-import/dev-services/engine-harness';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { sampleImportRecord } from '@erp-import/core/testing';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgAdapters, type PgAdapters } from '../src/index.js';

/**
 * An upload stored completely whose process died before it wrote the
 * import record: no record ever names the file, so the retention sweep,
 * which went by the records' states, kept it for ever.
 */

const database = useTestDatabase('adapter_pg_orphaned_file');
let pool: pg.Pool;
let adapters: PgAdapters;
// A schema whose imports table no status store writes to.
let elsewhere: PgAdapters;

const dayMs = 24 * 3_600_000;

beforeAll(async () => {
  pool = createTestPool(database.url, 6);
  adapters = await createPgAdapters({ pool });
  elsewhere = await createPgAdapters({ pool, schema: 'erp_import_unused' });
});

afterAll(async () => {
  await elsewhere.close();
  await adapters.close();
  await pool.end();
});

/** A complete file under `key`, stored `ageMs` ago. */
async function storedFile(store: PgAdapters, schema: string, ageMs: number) {
  const key = `acme/orphan-${Math.random().toString(36).slice(2)}`;
  await store.fileStore.put(key, Readable.from([Buffer.from('sku\n1\n')]));
  await pool.query(
    `UPDATE ${schema}.files SET created_at = now() - $2 * interval '1 millisecond'
     WHERE key = $1`,
    [key, ageMs],
  );
  return key;
}

const hasFile = (store: PgAdapters, key: string) =>
  store.fileStore.open(key).then(
    (stream) => (stream.destroy(), true),
    () => false,
  );

describe('a stored file whose import record was never written', () => {
  it('is swept once older than a day; a younger one is kept', async () => {
    const old = await storedFile(adapters, 'erp_import', 2 * dayMs);
    const young = await storedFile(adapters, 'erp_import', 3_600_000);
    // Imports keep being recorded after it: this is the status store.
    await adapters.statusStore.create(sampleImportRecord());

    await adapters.fileStore.deleteFilesOlderThan(3_600_000);

    expect(await hasFile(adapters, old)).toBe(false);
    expect(await hasFile(adapters, young)).toBe(true);
  });

  it('is kept when the schema holds no import records after it', async () => {
    const old = await storedFile(elsewhere, 'erp_import_unused', 2 * dayMs);

    expect(await elsewhere.fileStore.deleteFilesOlderThan(3_600_000)).toBe(0);
    expect(await hasFile(elsewhere, old)).toBe(true);
  });
});

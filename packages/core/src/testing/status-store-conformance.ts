import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ImportRecord } from '../ports/import-record.js';
import type { StatusStore } from '../ports/status-store.js';
import { awkwardText } from './awkward-text.js';
import { sampleImportRecord } from './sample-import-record.js';

export interface StatusStoreFixture {
  store: StatusStore;
  cleanup(): Promise<void>;
}

/**
 * The behaviour every StatusStore promises (see ports/status-store.ts), as
 * a vitest suite. Each test works under fresh tenant names, so a backend
 * shared between tests does not disturb it.
 */
export function describeStatusStoreConformance(
  name: string,
  factory: () => Promise<StatusStoreFixture>,
): void {
  describe(`StatusStore conformance: ${name}`, () => {
    let fixture: StatusStoreFixture;
    let store: StatusStore;
    let tenant: string;
    let otherTenant: string;
    // Distinct, increasing creation times, one second apart.
    let clock: number;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
      tenant = `tenant-${randomUUID().slice(0, 8)}`;
      otherTenant = `tenant-${randomUUID().slice(0, 8)}`;
      clock = Date.UTC(2024, 0, 1);
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    const newRecord = (overrides: Partial<ImportRecord> = {}) => {
      clock += 1000;
      return sampleImportRecord({
        tenant,
        createdAt: new Date(clock).toISOString(),
        ...overrides,
      });
    };

    it('creates a record and reads it back unchanged', async () => {
      const record = newRecord({
        options: { encoding: 'windows-1252', delimiter: ';' },
        detected: {},
      });
      const result = await store.create(record);
      expect(result).toEqual({ record, created: true });
      expect(await store.get(tenant, record.id)).toEqual(record);
      expect(await store.getById(record.id)).toEqual(record);
    });

    it('keeps one record per tenant and idempotency key', async () => {
      const first = newRecord({ idempotencyKey: 'upload-1' });
      const second = newRecord({ idempotencyKey: 'upload-1' });

      expect((await store.create(first)).created).toBe(true);
      const again = await store.create(second);

      expect(again.created).toBe(false);
      expect(again.record).toEqual(first);
      expect(await store.getById(second.id)).toBeUndefined();
    });

    it('finds a record by idempotency key, when it offers the lookup', async (context) => {
      if (!store.getByIdempotencyKey) {
        context.skip();
        return;
      }
      const record = newRecord({ idempotencyKey: 'upload-7' });
      await store.create(record);

      expect(await store.getByIdempotencyKey(tenant, 'upload-7')).toEqual(
        record,
      );
      expect(
        await store.getByIdempotencyKey(otherTenant, 'upload-7'),
      ).toBeUndefined();
      expect(
        await store.getByIdempotencyKey(tenant, 'upload-8'),
      ).toBeUndefined();
    });

    it('lets one of many concurrent creates with one key win', async () => {
      const records = Array.from({ length: 5 }, () =>
        newRecord({ idempotencyKey: 'upload-race' }),
      );
      const results = await Promise.all(records.map((r) => store.create(r)));

      const winners = results.filter((result) => result.created);
      expect(winners).toHaveLength(1);
      const winnerId = winners[0]?.record.id;
      for (const result of results) expect(result.record.id).toBe(winnerId);
    });

    it('scopes idempotency keys by tenant, and ignores absent keys', async () => {
      const mine = newRecord({ idempotencyKey: 'shared-key' });
      const theirs = newRecord({
        tenant: otherTenant,
        idempotencyKey: 'shared-key',
      });
      const plain = [newRecord(), newRecord()];

      expect((await store.create(mine)).created).toBe(true);
      expect((await store.create(theirs)).created).toBe(true);
      for (const record of plain) {
        expect((await store.create(record)).created).toBe(true);
      }
    });

    it('does not show a record to another tenant', async () => {
      const record = newRecord();
      await store.create(record);

      expect(await store.get(otherTenant, record.id)).toBeUndefined();
      expect(await store.get(tenant, randomUUID())).toBeUndefined();
      const page = await store.list({ tenant: otherTenant, limit: 10 });
      expect(page.items).toEqual([]);
    });

    it('transitions only from the given states (compare-and-set)', async () => {
      const record = newRecord();
      await store.create(record);
      const startedAt = new Date(clock + 500).toISOString();

      const claimed = await store.transition(record.id, ['queued'], {
        state: 'processing',
        attempts: 1,
        startedAt,
      });
      expect(claimed).toMatchObject({
        id: record.id,
        state: 'processing',
        attempts: 1,
        startedAt,
        entity: record.entity,
      });

      const again = await store.transition(record.id, ['queued'], {
        state: 'processing',
        attempts: 2,
      });
      expect(again).toBeUndefined();
      expect(await store.getById(record.id)).toMatchObject({ attempts: 1 });
      expect(
        await store.transition(randomUUID(), ['queued'], { state: 'failed' }),
      ).toBeUndefined();
    });

    it('lets one of two concurrent claims win', async () => {
      const record = newRecord();
      await store.create(record);

      const claims = await Promise.all(
        [1, 2].map(() =>
          store.transition(record.id, ['queued'], {
            state: 'processing',
            attempts: 1,
          }),
        ),
      );
      expect(claims.filter((claim) => claim !== undefined)).toHaveLength(1);
    });

    it('stores counts, failure, detection and times with a transition', async () => {
      const record = newRecord();
      await store.create(record);
      await store.transition(record.id, ['queued'], { state: 'processing' });
      const finishedAt = new Date(clock + 2000).toISOString();
      const counts = {
        read: 10,
        inserted: 5,
        updated: 2,
        unchanged: 1,
        deleted: 0,
        rejected: 1,
        superseded: 1,
        skipped: 0,
      };

      const done = await store.transition(record.id, ['processing'], {
        state: 'failed',
        counts,
        failure: { code: 'ENCODING_ERROR', message: 'bad bytes at 12' },
        detected: { encoding: 'utf-8', delimiter: ',' },
        finishedAt,
      });

      const expected = {
        ...record,
        state: 'failed',
        counts,
        failure: { code: 'ENCODING_ERROR', message: 'bad bytes at 12' },
        detected: { encoding: 'utf-8', delimiter: ',' },
        finishedAt,
      };
      expect(done).toEqual(expected);
      expect(await store.get(tenant, record.id)).toEqual(expected);

      const cleared = await store.transition(record.id, ['failed'], {
        state: 'queued',
        failure: null,
        finishedAt: null,
      });
      expect(cleared).toMatchObject({ failure: null, finishedAt: null });
    });

    it('gives back any text as it was stored, NUL and lone surrogates too', async () => {
      // Each text under a tenant, entity and key of its own: a store that
      // mangles one into another's would show a record to the wrong reader.
      const records = awkwardText.map((text) =>
        newRecord({
          tenant: `${tenant} ${text}`,
          entity: `items ${text}`,
          fileName: `${text}.csv`,
          submittedBy: text,
          idempotencyKey: `upload ${text}`,
          options: { delimiter: text, params: { [text]: text } },
          detected: { encoding: text },
        }),
      );
      for (const record of records) {
        expect(await store.create(record)).toEqual({ record, created: true });
      }

      for (const [index, record] of records.entries()) {
        const text = awkwardText[index] as string;
        const failure = {
          code: 'MISSING_COLUMNS',
          message: `the header cell "${text}" names no column`,
          details: { header: [text], [text]: { text } },
        };
        const failed = await store.transition(record.id, ['queued'], {
          state: 'failed',
          failure,
          detected: { encoding: text, delimiter: text },
        });
        const expected = {
          ...record,
          state: 'failed',
          failure,
          detected: { encoding: text, delimiter: text },
        };

        expect(failed).toEqual(expected);
        expect(await store.get(record.tenant, record.id)).toEqual(expected);
        const listed = await store.list({
          tenant: record.tenant,
          entity: record.entity,
          limit: 10,
        });
        expect(listed.items).toEqual([expected]);
        if (store.getByIdempotencyKey) {
          expect(
            await store.getByIdempotencyKey(
              record.tenant,
              record.idempotencyKey ?? '',
            ),
          ).toEqual(expected);
        }
      }
    });

    it('updates progress', async () => {
      const record = newRecord();
      await store.create(record);
      const progress = {
        bytesRead: 1024,
        bytesTotal: 4096,
        recordsRead: 37,
        recordsRejected: 2,
        phase: 'reading' as const,
        updatedAt: new Date(clock + 100).toISOString(),
      };

      await store.updateProgress(record.id, progress);
      expect((await store.get(tenant, record.id))?.progress).toEqual(progress);
      await store.updateProgress(randomUUID(), progress);
    });

    it('lists a tenant its records newest first, page by page', async () => {
      const records: ImportRecord[] = [];
      for (let index = 0; index < 7; index += 1) {
        const record = newRecord();
        records.push(record);
        await store.create(record);
      }
      await store.create(newRecord({ tenant: otherTenant }));

      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.list({
          tenant,
          limit: 3,
          ...(cursor !== undefined && { cursor }),
        });
        expect(page.items.length).toBeLessThanOrEqual(3);
        seen.push(...page.items.map((item) => item.id));
        cursor = page.nextCursor ?? undefined;
        pages += 1;
      } while (cursor !== undefined && pages < 10);

      expect(seen).toEqual(records.map((record) => record.id).reverse());
    });

    it('keeps pages stable when newer records arrive between them', async () => {
      const records: ImportRecord[] = [];
      for (let index = 0; index < 4; index += 1) {
        const record = newRecord();
        records.push(record);
        await store.create(record);
      }

      const first = await store.list({ tenant, limit: 2 });
      await store.create(newRecord());
      expect(first.nextCursor).not.toBeNull();
      const second = await store.list({
        tenant,
        limit: 2,
        cursor: first.nextCursor ?? '',
      });

      const ids = [...first.items, ...second.items].map((item) => item.id);
      expect(ids).toEqual(records.map((record) => record.id).reverse());
    });

    it('filters the list by entity and state', async () => {
      const items = newRecord({ entity: 'items' });
      const customers = newRecord({ entity: 'customers' });
      const failed = newRecord({ entity: 'items' });
      for (const record of [items, customers, failed]) {
        await store.create(record);
      }
      await store.transition(failed.id, ['queued'], { state: 'failed' });

      const byEntity = await store.list({ tenant, entity: 'items', limit: 10 });
      expect(byEntity.items.map((item) => item.id)).toEqual([
        failed.id,
        items.id,
      ]);

      const byState = await store.list({ tenant, state: 'failed', limit: 10 });
      expect(byState.items.map((item) => item.id)).toEqual([failed.id]);

      const both = await store.list({
        tenant,
        entity: 'customers',
        state: 'queued',
        limit: 10,
      });
      expect(both.items.map((item) => item.id)).toEqual([customers.id]);
      expect(both.nextCursor).toBeNull();
    });

    it('takes a completed import to reverted, and lists it by that state', async () => {
      const record = newRecord();
      await store.create(record);
      await store.transition(record.id, ['queued'], { state: 'completed' });

      const reverted = await store.transition(record.id, ['completed'], {
        state: 'reverted',
      });
      expect(reverted?.state).toBe('reverted');
      expect((await store.get(tenant, record.id))?.state).toBe('reverted');
      const listed = await store.list({ tenant, state: 'reverted', limit: 10 });
      expect(listed.items.map((item) => item.id)).toEqual([record.id]);
      // Reverted is final: it cannot be completed again.
      expect(
        await store.transition(record.id, ['completed'], { state: 'failed' }),
      ).toBeUndefined();
    });

    it('lists records by state across tenants, when it offers listByState', async (context) => {
      if (!store.listByState) {
        context.skip();
        return;
      }
      const mine = newRecord();
      const theirs = newRecord({ tenant: otherTenant });
      for (const record of [mine, theirs]) {
        await store.create(record);
        await store.transition(record.id, ['queued'], { state: 'processing' });
      }

      const found: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 100; pages += 1) {
        const page = await store.listByState({
          state: 'processing',
          limit: 50,
          ...(cursor !== undefined && { cursor }),
        });
        found.push(...page.items.map((item) => item.id));
        if (page.nextCursor === null) break;
        cursor = page.nextCursor;
      }
      expect(found).toEqual(expect.arrayContaining([mine.id, theirs.id]));
      expect(found.indexOf(theirs.id)).toBeLessThan(found.indexOf(mine.id));
    });
  });
}

import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ErrorLog, LoggedRowIssue, RowIssue } from '../ports/error-log.js';
import { awkwardText } from './awkward-text.js';

// An adapter may give back an absent optional field as null; the suite
// compares entries with both dropped (null raw values are checked apart).
function withoutEmpty(entry: RowIssue | LoggedRowIssue): unknown {
  const drop = (value: object) =>
    Object.fromEntries(
      Object.entries(value).filter(
        ([key, field]) =>
          key !== 'seq' && field !== null && field !== undefined,
      ),
    );
  return { ...drop(entry), position: drop(entry.position) };
}

export interface ErrorLogFixture {
  errorLog: ErrorLog;
  /**
   * A fresh import id to log under. Give it when the adapter needs the
   * import to exist first (a foreign key); random uuids otherwise.
   */
  newImportId?(): Promise<string>;
  cleanup(): Promise<void>;
}

/**
 * The behaviour every ErrorLog promises (see ports/error-log.ts), as a
 * vitest suite. Besides the port's promises it checks one rule every
 * adapter keeps: an entry needs a severity of `error` or `warning`, and a
 * batch holding one that does not is refused whole.
 */
export function describeErrorLogConformance(
  name: string,
  factory: () => Promise<ErrorLogFixture>,
): void {
  describe(`ErrorLog conformance: ${name}`, () => {
    let fixture: ErrorLogFixture;
    let errorLog: ErrorLog;

    beforeEach(async () => {
      fixture = await factory();
      errorLog = fixture.errorLog;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    const newImportId = () =>
      fixture.newImportId
        ? fixture.newImportId()
        : Promise.resolve(randomUUID());

    const issue = (
      recordNumber: number,
      severity: RowIssue['severity'] = 'error',
    ): RowIssue => ({
      severity,
      position: { recordNumber, line: recordNumber + 1 },
      column: 'qty',
      code: 'invalid_integer',
      message: `record ${recordNumber}: "x" is not an integer`,
      rawValue: 'x',
    });

    const readAll = async (importId: string, limit: number) => {
      const items: LoggedRowIssue[] = [];
      let afterSeq: number | undefined;
      for (let pages = 0; pages < 1000; pages += 1) {
        const page = await errorLog.page(importId, {
          limit,
          ...(afterSeq !== undefined && { afterSeq }),
        });
        items.push(...page.items);
        if (page.nextAfterSeq === null) break;
        afterSeq = page.nextAfterSeq;
      }
      return items;
    };

    it('reads back what was appended, in order, with every field', async () => {
      const importId = await newImportId();
      const full: RowIssue = {
        severity: 'warning',
        position: { recordNumber: 3, line: 4, endLine: 6, path: '$[2]' },
        column: 'name',
        code: 'duplicate_key_superseded',
        message: 'a later record has the same key',
        rawValue: 'multi\nline "quoted"',
        entity: 'items',
      };
      const sparse: RowIssue = {
        severity: 'error',
        position: { recordNumber: 4 },
        code: 'ragged_row',
        message: 'the record has 4 fields, the header 3',
      };

      await errorLog.append(importId, [issue(1), issue(2)]);
      await errorLog.append(importId, [full, sparse]);
      const items = await readAll(importId, 100);

      expect(items.map(withoutEmpty)).toEqual(
        [issue(1), issue(2), full, sparse].map(withoutEmpty),
      );
      const seqs = items.map((item) => item.seq);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(seqs.length);
    });

    it('gives back any text as it was appended, NUL and lone surrogates too', async () => {
      const importId = await newImportId();
      const entries: RowIssue[] = awkwardText.map((text, index) => ({
        severity: 'error',
        position: { recordNumber: index + 1, line: index + 2, path: text },
        column: text,
        code: `code ${text}`,
        message: `the record quotes ${text}`,
        rawValue: text,
        entity: text,
      }));

      await errorLog.append(importId, entries);
      const items = await readAll(importId, 100);

      expect(items.map(withoutEmpty)).toEqual(entries.map(withoutEmpty));
    });

    it('keeps a null raw value apart from an absent one', async () => {
      const importId = await newImportId();
      await errorLog.append(importId, [{ ...issue(1), rawValue: null }]);
      const [item] = await readAll(importId, 10);
      expect(item?.rawValue).toBeNull();
    });

    it('pages by keyset, unshaken by entries appended meanwhile', async () => {
      const importId = await newImportId();
      const first = Array.from({ length: 10 }, (_, i) => issue(i + 1));
      await errorLog.append(importId, first);

      const page = await errorLog.page(importId, { limit: 4 });
      expect(page.items.map((item) => item.position.recordNumber)).toEqual([
        1, 2, 3, 4,
      ]);
      expect(page.nextAfterSeq).not.toBeNull();

      const later = Array.from({ length: 5 }, (_, i) => issue(i + 11));
      await errorLog.append(importId, later);
      const rest: LoggedRowIssue[] = [];
      let afterSeq = page.nextAfterSeq;
      while (afterSeq !== null) {
        const next = await errorLog.page(importId, { limit: 4, afterSeq });
        rest.push(...next.items);
        afterSeq = next.nextAfterSeq;
      }

      expect(rest.map((item) => item.position.recordNumber)).toEqual(
        Array.from({ length: 11 }, (_, i) => i + 5),
      );
    });

    it('says a page is the last with nextAfterSeq null', async () => {
      const importId = await newImportId();
      await errorLog.append(importId, [issue(1), issue(2)]);

      const exact = await errorLog.page(importId, { limit: 2 });
      const past = await errorLog.page(importId, {
        limit: 2,
        afterSeq: exact.items.at(-1)?.seq ?? 0,
      });
      const empty = await errorLog.page(await newImportId(), { limit: 5 });

      // A page that ends exactly at the last entry may or may not say so,
      // but the page after it must be empty and final.
      expect(exact.items).toHaveLength(2);
      expect(past).toEqual({ items: [], nextAfterSeq: null });
      expect(empty).toEqual({ items: [], nextAfterSeq: null });
    });

    it('filters pages by severity', async () => {
      const importId = await newImportId();
      await errorLog.append(importId, [
        issue(1, 'error'),
        issue(2, 'warning'),
        issue(3, 'error'),
        issue(4, 'warning'),
      ]);

      const warnings = await errorLog.page(importId, {
        limit: 10,
        severity: 'warning',
      });
      expect(warnings.items.map((item) => item.position.recordNumber)).toEqual([
        2, 4,
      ]);
    });

    it('counts errors and warnings', async () => {
      const importId = await newImportId();
      await errorLog.append(importId, [
        issue(1, 'error'),
        issue(2, 'warning'),
        issue(3, 'error'),
      ]);
      expect(await errorLog.count(importId)).toEqual({
        errors: 2,
        warnings: 1,
      });
      expect(await errorLog.count(await newImportId())).toEqual({
        errors: 0,
        warnings: 0,
      });
    });

    it('stores a batch whole or not at all', async () => {
      const importId = await newImportId();
      await errorLog.append(importId, [issue(1)]);
      const invalid = {
        ...issue(3),
        severity: 'fatal',
      } as unknown as RowIssue;

      await expect(
        errorLog.append(importId, [issue(2), invalid]),
      ).rejects.toThrow();
      expect(await errorLog.count(importId)).toEqual({
        errors: 1,
        warnings: 0,
      });
      await errorLog.append(importId, []);
      expect(await errorLog.count(importId)).toEqual({
        errors: 1,
        warnings: 0,
      });
    });

    it('keeps imports apart, and clears one without touching another', async () => {
      const kept = await newImportId();
      const cleared = await newImportId();
      await errorLog.append(kept, [issue(1), issue(2)]);
      await errorLog.append(cleared, [issue(7)]);

      expect(await readAll(kept, 10)).toHaveLength(2);
      await errorLog.clear(cleared);

      expect(await errorLog.count(cleared)).toEqual({ errors: 0, warnings: 0 });
      expect(await readAll(cleared, 10)).toEqual([]);
      expect(await readAll(kept, 10)).toHaveLength(2);

      await errorLog.append(cleared, [issue(8)]);
      const again = await readAll(cleared, 10);
      expect(again.map((item) => item.position.recordNumber)).toEqual([8]);
    });

    it('appends concurrent batches without losing any', async () => {
      const importId = await newImportId();
      const batches = Array.from({ length: 5 }, (_, b) =>
        Array.from({ length: 20 }, (_, i) => issue(b * 20 + i + 1)),
      );
      await Promise.all(
        batches.map((batch) => errorLog.append(importId, batch)),
      );

      const items = await readAll(importId, 7);
      const numbers = items.map((item) => item.position.recordNumber);
      expect([...numbers].sort((a, b) => a - b)).toEqual(
        Array.from({ length: 100 }, (_, i) => i + 1),
      );
    });
  });
}

import { ErrorCodes, ImportError } from '../../errors/import-error.js';
import type {
  ErrorLog,
  LoggedRowIssue,
  RowIssue,
} from '../../ports/error-log.js';

const maxPageSize = 1000;

/**
 * The error log in the process's memory, for tests and development. An
 * import's entries live in one array in append order, so `seq` is also
 * the array order and a page is a scan from the cursor.
 */
export function createMemoryErrorLog(): ErrorLog {
  const byImport = new Map<
    string,
    { nextSeq: number; items: LoggedRowIssue[] }
  >();

  return {
    async append(importId, entries) {
      // Check the whole batch first: it is stored whole or not at all.
      entries.forEach(assertValidIssue);
      if (entries.length === 0) return;

      let log = byImport.get(importId);
      if (!log) {
        log = { nextSeq: 1, items: [] };
        byImport.set(importId, log);
      }
      for (const entry of entries) {
        log.items.push({ ...structuredClone(entry), seq: log.nextSeq });
        log.nextSeq += 1;
      }
    },

    async page(importId, query) {
      const limit = Math.min(Math.max(1, Math.floor(query.limit)), maxPageSize);
      const items = byImport.get(importId)?.items ?? [];
      const afterSeq = query.afterSeq ?? 0;

      const found: LoggedRowIssue[] = [];
      let more = false;
      for (const item of items) {
        if (item.seq <= afterSeq) continue;
        if (query.severity && item.severity !== query.severity) continue;
        if (found.length === limit) {
          more = true;
          break;
        }
        found.push(structuredClone(item));
      }
      const last = found.at(-1);
      return { items: found, nextAfterSeq: more && last ? last.seq : null };
    },

    async count(importId) {
      let errors = 0;
      let warnings = 0;
      for (const item of byImport.get(importId)?.items ?? []) {
        if (item.severity === 'error') errors += 1;
        else warnings += 1;
      }
      return { errors, warnings };
    },

    async clear(importId) {
      byImport.delete(importId);
    },
  };
}

/** What every error log requires of an entry (the conformance suite too). */
function assertValidIssue(issue: RowIssue): void {
  const valid =
    (issue.severity === 'error' || issue.severity === 'warning') &&
    Number.isInteger(issue.position?.recordNumber) &&
    typeof issue.code === 'string' &&
    issue.code !== '' &&
    typeof issue.message === 'string';
  if (!valid) {
    throw new ImportError(
      ErrorCodes.INVALID_REQUEST,
      'an error log entry needs a severity, a record number, a code and a message',
      { details: { code: issue.code } },
    );
  }
}

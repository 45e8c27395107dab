import type { ErrorLog, RowIssue } from '../ports/error-log.js';

export interface IssueWriter {
  /** Buffers issues; writes a batch, and waits for it, once one is full. */
  add(issues: readonly RowIssue[]): Promise<void>;
  /** Writes whatever is buffered. */
  flush(): Promise<void>;
}

/**
 * Appends an import's issues to the error log in batches. The reader waits
 * while a batch is written, so a file full of bad rows holds at most one
 * batch in memory.
 */
export function createIssueWriter(
  errorLog: ErrorLog,
  importId: string,
  batchSize = 500,
): IssueWriter {
  let buffer: RowIssue[] = [];

  const flush = async () => {
    if (buffer.length === 0) return;
    const batch = buffer;
    buffer = [];
    await errorLog.append(importId, batch);
  };

  return {
    async add(issues) {
      buffer.push(...issues);
      if (buffer.length >= batchSize) await flush();
    },
    flush,
  };
}

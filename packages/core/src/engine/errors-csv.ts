import type { ErrorLog, LoggedRowIssue } from '../ports/error-log.js';

const header = [
  'record_number',
  'line',
  'end_line',
  'path',
  'column',
  'code',
  'message',
  'raw_value',
  'severity',
];

/**
 * An import's error log as CSV text (RFC 4180: CRLF line ends, every
 * field quoted when it holds a quote, a delimiter or a line break), one
 * chunk per page so a large log is never held whole.
 */
export async function* errorLogCsv(
  errorLog: ErrorLog,
  importId: string,
  pageSize = 1000,
): AsyncGenerator<string> {
  yield csvLine(header);

  let afterSeq: number | undefined;
  for (;;) {
    const page = await errorLog.page(importId, {
      limit: pageSize,
      ...(afterSeq !== undefined && { afterSeq }),
    });
    if (page.items.length > 0) yield page.items.map(issueLine).join('');
    if (page.nextAfterSeq === null) return;
    afterSeq = page.nextAfterSeq;
  }
}

function issueLine(issue: LoggedRowIssue): string {
  const { position } = issue;
  return csvLine([
    String(position.recordNumber),
    position.line?.toString() ?? '',
    position.endLine?.toString() ?? '',
    position.path ?? '',
    issue.column ?? '',
    issue.code,
    issue.message,
    issue.rawValue ?? '',
    issue.severity,
  ]);
}

function csvLine(fields: readonly string[]): string {
  return `${fields.map(csvField).join(',')}\r\n`;
}

// Fields a spreadsheet would run as a formula are not altered: the file
// is data for audit, and altering values would misreport the input.
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

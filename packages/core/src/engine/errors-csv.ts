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
 * chunk per page so a large log is never held whole. It is the audit
 * file people open in a spreadsheet, so no cell can start a formula (see
 * `csvField`); the fix file (fix-file.ts) is the one that keeps the
 * sender's values byte for byte, for upload again.
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

// A spreadsheet runs a cell that begins with = + - or @ (or a tab or a
// carriage return before one) as a formula: `=HYPERLINK("http://...")`
// in an export would turn into a live link in the auditor's sheet. Such
// a cell gets a leading single quote, OWASP's rule for CSV injection,
// which spreadsheets show as text; `-5` then reads `'-5`, the price of
// the rule.
const formulaStart = /^[=+\-@\t\r]/;

function csvField(value: string): string {
  const safe = formulaStart.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

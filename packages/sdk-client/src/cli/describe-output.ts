import type {
  Entity,
  PublicImportRecord,
  RowIssueBody,
} from '@erp-import/core/contract';
import { formatBytes } from './progress-display.js';

/** The text `status` and `push --wait` print: state, counts, failure. */
export function describeImport(record: PublicImportRecord): string {
  const { counts } = record;
  const file = record.fileName ?? '(unnamed)';
  const lines = [
    `${record.id} ${record.state}`,
    `  entity ${record.entity}, format ${record.format}, ` +
      `file ${file} (${formatBytes(record.byteSize)})`,
  ];

  const { progress } = record;
  if (record.state === 'queued' || record.state === 'processing') {
    lines.push(
      `  ${progress.phase}: ${progress.recordsRead} records ` +
        `read, ${progress.recordsRejected} rejected`,
    );
  } else if (record.state === 'failed') {
    // Nothing was applied, so the counts are all zero; what the worker
    // read before the failure, rows it rejected included, is in the
    // progress, and those rows are in the error log.
    lines.push(
      `  nothing applied; ${progress.recordsRead} records read and ` +
        `${progress.recordsRejected} rejected before it failed`,
    );
  } else {
    lines.push(`  ${describeCounts(counts)}`);
    // A file with child records: each entity's share, on a line of its own.
    for (const [entity, part] of Object.entries(counts.entities ?? {})) {
      lines.push(`    ${entity}: ${describeCounts(part)}`);
    }
  }

  if (record.failure) {
    lines.push(`  failure ${record.failure.code}: ${record.failure.message}`);
  }
  // A failed import's counts are zero; its progress holds what it rejected.
  const rejected =
    record.state === 'completed'
      ? counts.rejected
      : record.state === 'failed'
        ? progress.recordsRejected
        : 0;
  if (rejected > 0) {
    lines.push(`  see the rejected rows: erp-import errors ${record.id}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * The counts, every part of `read` named so that the line adds up:
 * superseded and skipped records only when there are any.
 */
function describeCounts(counts: PublicImportRecord['counts']): string {
  const parts = [
    `read ${counts.read}`,
    `inserted ${counts.inserted}`,
    `updated ${counts.updated}`,
    `unchanged ${counts.unchanged}`,
    ...(counts.superseded > 0 ? [`superseded ${counts.superseded}`] : []),
    ...(counts.skipped > 0 ? [`skipped ${counts.skipped}`] : []),
    `rejected ${counts.rejected}`,
    `deleted ${counts.deleted}`,
  ];
  return parts.join(', ');
}

/** One rejected row per line: where, which column, why, what was there. */
export function describeRowIssue(issue: RowIssueBody): string {
  const { position } = issue;
  const where =
    position.line !== undefined
      ? `line ${position.line}`
      : `record ${position.recordNumber}` +
        (position.path !== undefined ? ` (${position.path})` : '');
  const column = issue.column !== undefined ? `, ${issue.column}` : '';
  // The engine's messages mostly name their column and quote the value
  // already (`customer_id: "..." has 15 characters`): the column is said
  // once, before the code, and the value only when the message lacks it.
  const prefix = issue.column !== undefined ? `${issue.column}: ` : undefined;
  const message =
    prefix !== undefined && issue.message.startsWith(prefix)
      ? issue.message.slice(prefix.length)
      : issue.message;
  const quoted =
    issue.rawValue !== undefined && issue.rawValue !== null
      ? JSON.stringify(issue.rawValue)
      : undefined;
  const value =
    quoted !== undefined && !message.includes(quoted) ? ` [${quoted}]` : '';
  const severity = issue.severity === 'warning' ? ' (warning)' : '';
  const why = `${issue.code}${severity}: ${message}`;
  return `${where}${column}: ${why}${value}\n`;
}

export function describeEntity(entity: Entity): string {
  const lines = [
    `${entity.entity}` +
      (entity.description !== null ? `: ${entity.description}` : ''),
    `  key ${entity.key.join(', ')}`,
  ];
  for (const column of entity.columns) {
    const type =
      column.type +
      (column.length !== undefined ? `(${column.length})` : '') +
      (column.precision !== undefined
        ? `(${column.precision},${column.scale ?? 0})`
        : '');
    const sources = column.sources.filter((source) => source !== column.name);
    lines.push(
      `  ${column.name} ${type}${column.nullable ? '' : ' not null'}` +
        (sources.length > 0 ? ` (from ${sources.join(', ')})` : ''),
    );
  }
  return lines.join('\n') + '\n';
}

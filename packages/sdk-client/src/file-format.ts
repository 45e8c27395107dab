import type { ImportFormat } from '@erp-import/core/contract';

/**
 * The import format a file name suggests: `.csv`, `.json`, `.ndjson` or
 * `.jsonl`, `.xml`, each also with `.gz`. Undefined for anything else.
 */
export function formatFromFileName(name: string): ImportFormat | undefined {
  const extension = /\.([a-z]+)(?:\.gz)?$/i.exec(name)?.[1]?.toLowerCase();
  switch (extension) {
    case 'csv':
    case 'txt':
      return 'csv';
    case 'json':
      return 'json';
    case 'ndjson':
    case 'jsonl':
      return 'ndjson';
    case 'xml':
      return 'xml';
    default:
      return undefined;
  }
}

/** Whether the name says the file is gzip already. */
export function isGzipFileName(name: string): boolean {
  return /\.gz$/i.test(name);
}

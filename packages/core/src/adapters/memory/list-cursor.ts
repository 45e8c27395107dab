import { ErrorCodes, ImportError } from '../../errors/import-error.js';

/**
 * The opaque cursor of a records page: where the previous page ended,
 * newest first. Clients get it as a string and hand it back unread.
 */
export interface ListCursor {
  createdAt: string;
  id: string;
}

export function encodeListCursor(record: ListCursor): string {
  const json = JSON.stringify([record.createdAt, record.id]);
  return Buffer.from(json, 'utf8').toString('base64url');
}

export function decodeListCursor(cursor: string): ListCursor {
  try {
    const value: unknown = JSON.parse(
      Buffer.from(cursor, 'base64url').toString('utf8'),
    );
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string'
    ) {
      return { createdAt: value[0], id: value[1] };
    }
  } catch {
    // Falls through to the error below: a cursor is ours or it is invalid.
  }
  throw new ImportError(ErrorCodes.INVALID_REQUEST, 'invalid list cursor', {
    details: { cursor },
  });
}

import { to as copyTo } from 'pg-copy-streams';
import { ErrorCodes, ImportError } from '@erp-import/core';
import type { PgPoolClient } from './pg-types.js';

/**
 * Reads the one bytea value a `SELECT` returns, through
 * `COPY (...) TO STDOUT (FORMAT binary)`: the bytes arrive as they are
 * stored. A plain query would bring them as hex text, twice their size,
 * which both the server and this process then spend CPU to write and to
 * read back (a fifth of a large import's time in the worker's thread).
 * Returns undefined when the query finds no row.
 *
 * The binary format (PostgreSQL's COPY documentation): a signature, two
 * 32-bit header words (flags, extension length) and the extension, then
 * per row a 16-bit field count and per field a 32-bit length (-1 for
 * NULL) and its bytes; a field count of -1 ends the data.
 */
export async function readOneByteaByCopy(
  client: PgPoolClient,
  select: string,
): Promise<Buffer | undefined> {
  const stream = client.query(
    copyTo(`COPY (${select}) TO STDOUT (FORMAT binary)`),
  );
  // The header is read from the first pieces; the value's bytes are then
  // copied once, as they arrive, into memory of their own (a reader may
  // move it to another thread as it is).
  let head: Buffer = Buffer.alloc(0);
  let value: Buffer | undefined;
  let filled = 0;
  let field: Field | undefined;
  for await (const piece of stream) {
    const bytes = piece as Buffer;
    if (field === undefined) {
      head = head.length === 0 ? bytes : Buffer.concat([head, bytes]);
      field = readFieldHeader(head);
      if (field === undefined) continue;
      // No row, or a NULL: the rest of the stream says nothing more.
      if (field.length >= 0) {
        value = Buffer.allocUnsafeSlow(field.length);
        filled = copyInto(value, head.subarray(field.start), filled);
      }
      head = Buffer.alloc(0);
    } else if (value !== undefined) {
      filled = copyInto(value, bytes, filled);
    }
  }
  if (field === undefined) throw malformed('COPY binary data cut short');
  if (value !== undefined && filled < value.length) {
    throw malformed('COPY binary data cut short');
  }
  return value;
}

const signature = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** Where the one field's bytes start, and how many; -1 for none. */
interface Field {
  start: number;
  length: number;
}

// Undefined until `data` holds the whole header of the first row.
function readFieldHeader(data: Buffer): Field | undefined {
  const fixed = signature.length + 8;
  if (data.length < fixed) return undefined;
  if (!data.subarray(0, signature.length).equals(signature)) {
    throw malformed('COPY binary data without its signature');
  }
  const extension = data.readUInt32BE(signature.length + 4);
  const at = fixed + extension;
  if (data.length < at + 2) return undefined;
  const fields = data.readInt16BE(at);
  if (fields === -1) return { start: at + 2, length: -1 };
  if (fields !== 1) {
    throw malformed(`a COPY binary row of ${fields} fields, not 1`);
  }
  if (data.length < at + 6) return undefined;
  return { start: at + 6, length: data.readInt32BE(at + 2) };
}

// The value's bytes go in; what follows them (the end marker) does not.
function copyInto(value: Buffer, bytes: Buffer, filled: number): number {
  const count = Math.min(bytes.length, value.length - filled);
  bytes.copy(value, filled, 0, count);
  return filled + count;
}

function malformed(message: string): ImportError {
  return new ImportError(ErrorCodes.STORE_ERROR, message);
}

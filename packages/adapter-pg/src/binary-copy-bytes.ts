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
  const pieces: Buffer[] = [];
  const stream = client.query(
    copyTo(`COPY (${select}) TO STDOUT (FORMAT binary)`),
  );
  for await (const piece of stream) pieces.push(piece as Buffer);
  return decodeOneField(Buffer.concat(pieces));
}

const signature = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

function decodeOneField(data: Buffer): Buffer | undefined {
  if (!data.subarray(0, signature.length).equals(signature)) {
    throw malformed('COPY binary data without its signature');
  }
  const extension = data.readUInt32BE(signature.length + 4);
  let at = signature.length + 8 + extension;
  const fields = data.readInt16BE(at);
  if (fields === -1) return undefined;
  if (fields !== 1) {
    throw malformed(`a COPY binary row of ${fields} fields, not 1`);
  }
  const length = data.readInt32BE(at + 2);
  if (length < 0) return undefined;
  at += 6;
  return data.subarray(at, at + length);
}

function malformed(message: string): ImportError {
  return new ImportError(ErrorCodes.STORE_ERROR, message);
}

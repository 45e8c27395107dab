import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { ErrorCodes, ImportError } from '../errors/import-error.js';

/**
 * The request body as the engine reads it: the same bytes, counted, and
 * failed rather than ended early.
 *
 * - Past `maxBytes` it fails with PAYLOAD_TOO_LARGE the moment the limit
 *   is passed, so an oversized body is refused while it streams, never
 *   after it was stored.
 * - A request that ends before its last byte (the client went away, the
 *   server's request timeout cut it) fails it with INVALID_REQUEST and
 *   `details.aborted`, so nothing half-sent is stored as if it were whole.
 *
 * Its errors are heard from the moment it exists: the engine may look an
 * idempotency key up, or a file store create its row, before it reads a
 * byte, and an 'error' nobody listens to kills the process. The error
 * stays on the stream (`errored`), and whoever reads it later gets it.
 */
export function uploadBody(
  request: IncomingMessage,
  maxBytes?: number,
): Transform {
  let seen = 0;
  const body = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      seen += chunk.length;
      if (maxBytes !== undefined && seen > maxBytes) {
        callback(
          new ImportError(
            ErrorCodes.PAYLOAD_TOO_LARGE,
            `the upload exceeds ${maxBytes} bytes`,
            { details: { maxBytes } },
          ),
        );
        return;
      }
      callback(null, chunk);
    },
  });
  body.on('error', () => undefined);

  const cutShort = (cause?: unknown) => {
    if (body.destroyed || request.complete) return;
    body.destroy(
      new ImportError(
        ErrorCodes.INVALID_REQUEST,
        'the upload ended before its last byte',
        { cause, details: { aborted: true, bytesReceived: seen } },
      ),
    );
  };
  request.on('error', cutShort);
  request.once('close', () => cutShort());

  // Once the body failed (or its reader gave up), the request stops
  // feeding it; the router answers, and reads or drops the rest.
  body.once('close', () => request.unpipe(body));
  request.pipe(body);
  return body;
}

/** Whether an upload failed because its client went away mid-body. */
export function isAbortedUpload(error: ImportError): boolean {
  return error.details.aborted === true;
}

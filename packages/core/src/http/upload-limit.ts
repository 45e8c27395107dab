import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { ErrorCodes, ImportError } from '../errors/import-error.js';

/**
 * Passes an upload through while counting its bytes, and fails it with
 * PAYLOAD_TOO_LARGE the moment it passes `maxBytes`, so an oversized body
 * is refused while it streams, never after it was stored. A request that
 * ends early (the client went away) fails it too, so nothing half-sent is
 * stored as if it were whole.
 */
export function limitUpload(request: Readable, maxBytes: number): Readable {
  let seen = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > maxBytes) {
        request.unpipe(limiter);
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

  request.once('error', (error) => limiter.destroy(error));
  request.once('close', () => {
    if (!requestComplete(request) && !limiter.destroyed) {
      limiter.destroy(
        new ImportError(
          ErrorCodes.INVALID_REQUEST,
          'the upload ended before its last byte',
        ),
      );
    }
  });
  request.pipe(limiter);
  return limiter;
}

function requestComplete(request: Readable): boolean {
  const complete = (request as Readable & { complete?: boolean }).complete;
  return complete ?? request.readableEnded;
}

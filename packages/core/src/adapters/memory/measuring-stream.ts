import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { ErrorCodes, ImportError } from '../../errors/import-error.js';

export interface MeasuringStream extends Transform {
  /** Bytes passed through so far. */
  readonly size: number;
  /** The sha256 of the bytes, hex; call once the stream has ended. */
  checksum(): string;
}

/**
 * Passes bytes through while counting them and hashing them, and fails
 * with PAYLOAD_TOO_LARGE as soon as they pass `maxBytes`, before the
 * chunk that crosses the limit is passed on.
 */
export function createMeasuringStream(maxBytes?: number): MeasuringStream {
  const hash = createHash('sha256');
  let size = 0;

  const stream = new Transform({
    transform(chunk: Buffer | string, _encoding, callback) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += bytes.length;
      if (maxBytes !== undefined && size > maxBytes) {
        callback(
          new ImportError(
            ErrorCodes.PAYLOAD_TOO_LARGE,
            `the file is larger than ${maxBytes} bytes`,
            { details: { maxBytes } },
          ),
        );
        return;
      }
      hash.update(bytes);
      callback(null, bytes);
    },
  });

  // defineProperty, not Object.assign: assign would copy the getter's value.
  Object.defineProperty(stream, 'size', { get: () => size });
  return Object.assign(stream, {
    checksum: () => hash.digest('hex'),
  }) as MeasuringStream;
}

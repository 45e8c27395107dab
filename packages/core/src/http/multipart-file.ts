import type { IncomingHttpHeaders } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import busboy from 'busboy';
import { ErrorCodes, ImportError } from '../errors/import-error.js';

/**
 * A `multipart/form-data` upload (a browser form, `curl -F file=@...`):
 * the first file part is the import's file, streamed as it arrives like a
 * raw body; other fields and files are read and dropped. busboy parses
 * the parts without holding them.
 *
 * `body` is the request body as `uploadBody` counts it, so the size limit
 * and a request cut short apply to the whole form. Whatever fails (the
 * body, the form's syntax) fails the file stream with the same error, and
 * a form that ends with no file part is refused with INVALID_REQUEST.
 */
export function isMultipart(headers: IncomingHttpHeaders): boolean {
  return /^multipart\/form-data\b/i.test(headers['content-type'] ?? '');
}

export interface MultipartFile {
  file: Readable;
  /** The file name the form gave, when it gave one. */
  fileName?: string;
}

export function multipartFile(
  headers: IncomingHttpHeaders,
  body: Readable,
): Promise<MultipartFile> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers, limits: { files: 1 } });
    } catch (error) {
      reject(notAForm(error));
      return;
    }
    // Errors are heard from the start, as for a raw body (upload-body.ts).
    const file = new PassThrough();
    file.on('error', () => undefined);
    let found = false;

    const fail = (error: unknown) => {
      const failure = error instanceof ImportError ? error : notAForm(error);
      if (found) file.destroy(failure);
      else reject(failure);
      body.unpipe(parser);
    };
    body.on('error', fail);
    parser.on('error', fail);

    parser.on('file', (_name, part, info) => {
      if (found) {
        part.resume();
        return;
      }
      found = true;
      part.on('error', fail);
      part.pipe(file);
      resolve({
        file,
        ...(info.filename !== undefined &&
          info.filename !== '' && { fileName: info.filename }),
      });
    });
    parser.on('close', () => {
      if (!found) {
        reject(
          new ImportError(
            ErrorCodes.INVALID_REQUEST,
            'the multipart/form-data body holds no file part',
          ),
        );
      }
    });
    body.pipe(parser);
  });
}

function notAForm(cause: unknown): ImportError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new ImportError(
    ErrorCodes.INVALID_REQUEST,
    `the multipart/form-data body cannot be read: ${reason}`,
    { cause },
  );
}

import type { Readable } from 'node:stream';
import type { ImportError } from '../errors/import-error.js';
import { decodeToUtf8 } from './decode.js';
import { openInput } from './decompress.js';
import { eachItem, type ReadItem, type RecordReader } from './record-reader.js';

/**
 * Turns the stored bytes of a JSON or XML document into text for the
 * parsers that read text: gzip is inflated (openInput), the bytes are
 * decoded and validated (decodeToUtf8: the BOM first, then the declared
 * encoding, then detection), and the UTF-8 result becomes strings.
 *
 * A document may name its own encoding (the XML declaration): `sniff`
 * reads it from the first bytes and it counts as declared, unless the
 * import declared one already.
 */

export interface DocumentTextOptions {
  /** The encoding the import declares; a BOM still wins over it. */
  encoding?: string;
  /** Names the encoding the document's first bytes declare, if any. */
  sniff?: (head: Buffer) => string | undefined;
}

export interface DocumentText {
  /** The text, in chunks; iterate once. */
  chunks: AsyncIterable<string>;
  /** The encoding in use; known once the first chunk is out. */
  encoding(): string | undefined;
  /** Bytes of the input, as stored (compressed), consumed so far. */
  bytesRead(): number;
}

// Enough for a BOM and an XML declaration with its encoding.
const HEAD_BYTES = 512;

export function documentText(
  input: Readable,
  options: DocumentTextOptions = {},
): DocumentText {
  const opened = openInput(input);
  let encoding: (() => string | undefined) | undefined;

  async function* chunks(): AsyncGenerator<string> {
    const source = opened.stream[
      Symbol.asyncIterator
    ]() as AsyncIterator<Buffer>;

    // The first bytes, for the document's own declaration of encoding.
    const head: Buffer[] = [];
    let headLength = 0;
    while (options.sniff && headLength < HEAD_BYTES) {
      const next = await source.next();
      if (next.done) break;
      head.push(next.value);
      headLength += next.value.length;
    }
    const declared = options.encoding ?? options.sniff?.(Buffer.concat(head));

    async function* replay(): AsyncGenerator<Buffer> {
      yield* head;
      for (;;) {
        const next = await source.next();
        if (next.done) return;
        yield next.value;
      }
    }

    const decoded = decodeToUtf8(replay(), {
      ...(declared !== undefined && { encoding: declared }),
    });
    encoding = () => decoded.encoding();
    // decodeToUtf8 yields whole characters only, so each chunk converts
    // to a string on its own (TextDecoder: faster than Buffer's toString
    // on text with accents). It has dropped the file's byte-order mark: a
    // U+FEFF that begins a later chunk belongs to a value.
    const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
    for await (const bytes of decoded.chunks) yield utf8.decode(bytes);
  }

  return {
    chunks: { [Symbol.asyncIterator]: chunks },
    encoding: () => encoding?.(),
    bytesRead: () => opened.bytesRead(),
  };
}

/**
 * What a document parser offers the reader around it: text goes in,
 * items come out, and a failure of the whole document is answered, not
 * thrown, so the records read before it still go out first.
 */
export interface DocumentWalkerLike {
  write(text: string): ImportError | undefined;
  end(): ImportError | undefined;
  take(): ReadItem[];
}

/** Characters written to a walker at once. */
const sliceChars = 16 * 1024;

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * The RecordReader over a document: iterated once, feeding `text` to the
 * walker `start` makes and handing out its items as they come.
 */
export function documentReader(
  text: DocumentText,
  start: () => DocumentWalkerLike,
): RecordReader {
  let started = false;

  async function* batches(): AsyncGenerator<readonly ReadItem[]> {
    if (started) throw new Error('a record reader can be iterated once');
    started = true;

    // Records read before a failure still go out; the failure follows
    // them, and the engine then fails the whole import.
    const walker = start();
    for await (const chunk of text.chunks) {
      // A chunk is written a slice at a time and its records handed out
      // after each: the records of a whole chunk, alive at once, would
      // outlive the young generation and make every collection copy them.
      for (let from = 0; from < chunk.length;) {
        let to = Math.min(chunk.length, from + sliceChars);
        // Never between the two halves of a surrogate pair.
        if (to < chunk.length && isHighSurrogate(chunk.charCodeAt(to - 1))) {
          to -= 1;
        }
        const failure = walker.write(chunk.slice(from, to));
        const items = walker.take();
        if (items.length > 0) yield items;
        if (failure) throw failure;
        from = to;
      }
    }
    const failure = walker.end();
    const items = walker.take();
    if (items.length > 0) yield items;
    if (failure) throw failure;
  }

  return {
    batches: () => ({ [Symbol.asyncIterator]: batches }),
    items: () => eachItem({ [Symbol.asyncIterator]: batches }),
    detected: () => {
      const encoding = text.encoding();
      return encoding === undefined ? {} : { encoding };
    },
    bytesRead: () => text.bytesRead(),
  };
}

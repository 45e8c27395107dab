import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ImportError } from '../src/errors/import-error.js';
import { inflationLimit, openInput } from '../src/readers/decompress.js';

// A gzip body that inflates hundreds of times its size (a few kilobytes
// under the upload limit, gigabytes of rows for the worker) fails the
// import past a floor; an ordinary export, however large, never does.

const small = { floorBytes: 1024 * 1024, maxRatio: 250 };

async function readAll(body: Buffer, limit = small): Promise<Buffer> {
  const opened = openInput(Readable.from([body]), { inflation: limit });
  const chunks: Buffer[] = [];
  for await (const chunk of opened.stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** CSV rows that compress as exports do, a few times over. */
function exportLike(rows: number): Buffer {
  const lines = ['code,name,amount'];
  let seed = 7;
  for (let i = 0; i < rows; i++) {
    seed = (seed * 48271) % 2147483647;
    lines.push(`C${i},Customer ${seed % 99991},${(seed % 100000) / 100}`);
  }
  return Buffer.from(lines.join('\n') + '\n');
}

describe('the bound on inflation', () => {
  it('fails a body that inflates past the floor and the ratio', async () => {
    const bomb = gzipSync(Buffer.from('A,1\n'.repeat(2_000_000)));
    expect(bomb.length * small.maxRatio).toBeLessThan(8_000_000);

    const error = await readAll(bomb).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ImportError);
    expect((error as ImportError).code).toBe('PAYLOAD_TOO_LARGE');
    expect((error as ImportError).message).toContain('250 times');
  });

  it('reads an export of several megabytes whole', async () => {
    const text = exportLike(200_000);
    expect(text.length).toBeGreaterThan(4 * small.floorBytes);
    expect(await readAll(gzipSync(text))).toEqual(text);
  });

  it('reads a body that compresses past the ratio below the floor', async () => {
    const text = Buffer.from('A,1\n'.repeat(200_000));
    expect(text.length).toBeLessThan(small.floorBytes);
    expect(await readAll(gzipSync(text))).toEqual(text);
  });

  it('is a gigabyte and 250 times by default', () => {
    expect(inflationLimit).toEqual({
      floorBytes: 1024 * 1024 * 1024,
      maxRatio: 250,
    });
  });
});

import { describe, expect, it } from 'vitest';
import {
  compileDateTimeFormat,
  matchFormats,
  type CompiledFormat,
} from '../src/coercion/date-format.js';

// A format of fixed-width digits is read by position instead of by its
// regex; both readings must agree on every input, valid or not.

const formats = [
  'yyyy-MM-dd',
  'yyyy-MM-dd HH:mm:ss',
  'dd/MM/yyyy',
  'dd/MM/yyyy HH:mm',
  'dd.MM.yy',
  "yyyy-MM-dd'T'HH:mm:ss",
  'yyyyMMdd',
];

// A deterministic stream of inputs: well-formed values, near misses and
// noise, so that a difference shows the same way on every run.
function* inputs(): Generator<string> {
  let seed = 7;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const noise = '0123456789-/:. T\u0661\uff12a+';
  for (let i = 0; i < 20_000; i++) {
    const year = String(next(10_000)).padStart(4, '0');
    const month = String(next(14)).padStart(2, '0');
    const day = String(next(33)).padStart(2, '0');
    const time = `${String(next(25)).padStart(2, '0')}:${String(next(61)).padStart(2, '0')}`;
    yield `${year}-${month}-${day}`;
    yield `${year}-${month}-${day} ${time}:${String(next(61)).padStart(2, '0')}`;
    yield `${day}/${month}/${year} ${time}`;
    yield `${day}/${month}/${year}`;
    yield `${year}-${month}-${day}T${time}:${String(next(61)).padStart(2, '0')}`;
    yield `${day}.${month}.${year.slice(2)}`;
    yield `${year}${month}${day}`;
    let random = '';
    for (let n = next(20); n > 0; n--) random += noise[next(noise.length)];
    yield random;
  }
}

describe('a fixed-width date format', () => {
  it.each(formats)('reads "%s" as its regex does', (format) => {
    const fixed = compileDateTimeFormat(format);
    expect(fixed.fixed).toBeDefined();
    const byRegex: CompiledFormat = { ...fixed };
    delete byRegex.fixed;

    let read = 0;
    for (const text of inputs()) {
      const viaFixed = matchFormats(text, [fixed])?.fields;
      expect(viaFixed).toEqual(matchFormats(text, [byRegex])?.fields);
      if (viaFixed !== undefined) read += 1;
    }
    // The inputs hold values of each format, not only refusals.
    expect(read).toBeGreaterThan(1000);
  });

  it('is not used where widths vary', () => {
    for (const format of ['d/M/yyyy', 'yyyy-MM-dd HH:mm:ss.SSS', 'HH:mmX']) {
      expect(compileDateTimeFormat(format).fixed).toBeUndefined();
    }
  });
});

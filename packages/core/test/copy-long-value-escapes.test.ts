import { describe, expect, it } from 'vitest';
import { encodeCopyValue } from '../src/loader/copy-stream.js';

// A value escaped for COPY in one `replace` gathers every match before it
// joins them: a record-sized value made of backslashes took a parse
// thread's whole heap (and V8 may then abort the process). A long value
// is now escaped a slice at a time; the slices must not show.

const escaped = (value: string) =>
  value
    .replaceAll('\\', '\\\\')
    .replaceAll('\t', '\\t')
    .replaceAll('\n', '\\n')
    .replaceAll('\r', '\\r');

describe('a long value escaped for COPY', () => {
  it('comes out as a short one would', () => {
    const value = `${'a\\'.repeat(70_000)}\t${'\n\r'.repeat(40_000)}end`;
    expect(encodeCopyValue(value)).toBe(escaped(value));
  });

  it('escapes a special character that ends a slice', () => {
    // 64 Ki characters a slice: the last of the first is a backslash.
    const value = `${'x'.repeat(64 * 1024 - 1)}\\${'y'.repeat(10)}\n`;
    expect(encodeCopyValue(value)).toBe(escaped(value));
  });

  it('leaves a long value without special characters as it is', () => {
    const value = 'z'.repeat(200_000);
    expect(encodeCopyValue(value)).toBe(value);
  });
});

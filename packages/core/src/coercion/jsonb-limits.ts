import {
  numericMaxFractionDigits,
  numericMaxIntegerDigits,
} from './number-format.js';

/**
 * What PostgreSQL's jsonb refuses in JSON text that `JSON.parse` takes:
 * the escape `\u0000`, escapes of lone UTF-16 surrogates, numbers beyond
 * numeric's range (jsonb stores numbers as numeric, where `JSON.parse`
 * reads `1e1000000` as Infinity and `1e-20000` as 0), and nesting deeper
 * than the server's stack allows.
 *
 * The scan runs on text that `JSON.parse` accepted, so it trusts the
 * grammar: a backslash only occurs inside a string, and a number is
 * `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`. It is one pass of
 * charCode tests, with native searches for quotes and backslashes.
 *
 * TODO: a database whose encoding is not UTF8 also refuses `\u` escapes
 * of characters beyond ASCII; this assumes UTF8, which the tests and
 * examples use, since the server's encoding is not known here.
 */

/**
 * PostgreSQL stops deep nesting with its stack limit (`max_stack_depth`):
 * about 14,500 nested arrays at the default 2MB. No ERP document nests
 * anywhere near this limit. A server set far lower refuses less deep
 * values (about 700 arrays at the minimum, 100kB); its COPY then fails
 * the import, naming the record (loader/copy-refusal.ts).
 */
export const jsonbMaxDepth = 1000;

// numeric refuses an exponent from INT_MAX / 2 on, even for zero.
const numericMaxExponent = 1073741823;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/** Why jsonb would refuse `text` (parsed JSON), or undefined. */
export function findJsonbRefusal(text: string): string | undefined {
  const end = text.length;
  let depth = 0;
  let nextBackslash = text.indexOf('\\');

  let i = 0;
  while (i < end) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      // To the closing quote, through the escapes on the way.
      let at = i + 1;
      for (;;) {
        const quote = text.indexOf('"', at);
        if (nextBackslash === -1 || nextBackslash > quote) {
          at = quote + 1;
          break;
        }
        const escape = readEscape(text, nextBackslash);
        if (typeof escape === 'string') return escape;
        at = escape;
        nextBackslash = text.indexOf('\\', at);
      }
      i = at;
    } else if (code === 0x5b || code === 0x7b) {
      depth++;
      if (depth > jsonbMaxDepth) {
        return `the JSON nests deeper than ${jsonbMaxDepth} levels`;
      }
      i++;
    } else if (code === 0x5d || code === 0x7d) {
      depth--;
      i++;
    } else if (code === MINUS || isDigit(code)) {
      const after = endOfNumber(text, i);
      const refusal = numberRefusal(text, i, after);
      if (refusal !== undefined) return refusal;
      i = after;
    } else {
      i++;
    }
  }
  return undefined;
}

/**
 * The escape at `at` (a backslash): the index after it, or why jsonb
 * refuses it. A high surrogate counts only with a low one right after.
 */
function readEscape(text: string, at: number): number | string {
  if (text.charCodeAt(at + 1) !== 0x75) return at + 2;
  const unit = hexUnit(text, at + 2);
  if (unit === 0) {
    return 'the JSON holds the escape \\u0000, which jsonb cannot store';
  }
  if (unit >= 0xd800 && unit <= 0xdbff) {
    const low =
      text.charCodeAt(at + 6) === BACKSLASH && text.charCodeAt(at + 7) === 0x75
        ? hexUnit(text, at + 8)
        : -1;
    if (low >= 0xdc00 && low <= 0xdfff) return at + 12;
    return loneSurrogate(text, at);
  }
  if (unit >= 0xdc00 && unit <= 0xdfff) return loneSurrogate(text, at);
  return at + 6;
}

function loneSurrogate(text: string, at: number): string {
  return (
    `the JSON holds the escape ${text.slice(at, at + 6)}, half of a ` +
    'UTF-16 surrogate pair without its other half, which jsonb cannot store'
  );
}

// Four hexadecimal digits, which JSON.parse has checked already.
function hexUnit(text: string, at: number): number {
  let unit = 0;
  for (let i = at; i < at + 4; i++) {
    const code = text.charCodeAt(i) | 0x20;
    unit = unit * 16 + (code <= NINE ? code - ZERO : code - 0x57);
  }
  return unit;
}

function endOfNumber(text: string, start: number): number {
  let i = start;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    const inNumber =
      isDigit(code) ||
      code === DOT ||
      code === MINUS ||
      code === 0x2b ||
      code === 0x65 ||
      code === 0x45;
    if (!inNumber) break;
    i++;
  }
  return i;
}

/**
 * Whether numeric holds the number `text[start, end)`. numeric keeps at
 * most 16383 digits after the point (the scale: the fraction's digits
 * less the exponent), and a most significant digit at most 131071 places
 * before it.
 */
function numberRefusal(
  text: string,
  start: number,
  end: number,
): string | undefined {
  let i = text.charCodeAt(start) === MINUS ? start + 1 : start;
  const integerStart = i;
  while (i < end && isDigit(text.charCodeAt(i))) i++;
  // JSON writes zero's integer part as a lone 0 and no other leading zero.
  const integerDigits =
    text.charCodeAt(integerStart) === ZERO ? 0 : i - integerStart;
  let fractionDigits = 0;
  let firstSignificant = -1;
  if (i < end && text.charCodeAt(i) === DOT) {
    i++;
    const fractionStart = i;
    while (i < end && isDigit(text.charCodeAt(i))) {
      if (firstSignificant === -1 && text.charCodeAt(i) !== ZERO) {
        firstSignificant = i - fractionStart;
      }
      i++;
    }
    fractionDigits = i - fractionStart;
  }
  const exponent = i < end ? exponentOf(text, i + 1, end) : 0;
  if (
    exponent === 0 &&
    integerDigits <= numericMaxIntegerDigits &&
    fractionDigits <= numericMaxFractionDigits
  ) {
    return undefined;
  }

  const scale = Math.max(0, fractionDigits - exponent);
  const isZero = integerDigits === 0 && firstSignificant === -1;
  const leading = isZero
    ? 0
    : integerDigits > 0
      ? integerDigits - 1 + exponent
      : exponent - firstSignificant - 1;
  if (
    Math.abs(exponent) >= numericMaxExponent ||
    scale > numericMaxFractionDigits ||
    leading >= numericMaxIntegerDigits
  ) {
    return (
      `the JSON number ${shortNumber(text, start, end)} is beyond the ` +
      `range of numeric, which jsonb stores numbers in (up to ` +
      `${numericMaxIntegerDigits} digits before the point and ` +
      `${numericMaxFractionDigits} after)`
    );
  }
  return undefined;
}

// The exponent's digits after `e`; beyond any limit when very long.
function exponentOf(text: string, start: number, end: number): number {
  let i = start;
  const sign = text.charCodeAt(i) === MINUS ? -1 : 1;
  if (text.charCodeAt(i) === MINUS || text.charCodeAt(i) === 0x2b) i++;
  let value = 0;
  for (; i < end; i++) {
    value = value * 10 + (text.charCodeAt(i) - ZERO);
    if (value >= numericMaxExponent) return sign * numericMaxExponent;
  }
  return sign * value;
}

function isDigit(code: number): boolean {
  return code >= ZERO && code <= NINE;
}

function shortNumber(text: string, start: number, end: number): string {
  return end - start <= 40
    ? text.slice(start, end)
    : `${text.slice(start, start + 37)}...`;
}

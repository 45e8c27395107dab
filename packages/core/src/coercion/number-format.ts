/**
 * Reads numbers written in a locale (`1.234,56` under pt-BR, `1,234.56`
 * under en-US) as digit strings: a value never passes through a float, so
 * 20-digit decimals and integers beyond 2^53 stay exact.
 */

export interface NumberFormat {
  decimalSeparator: string;
  /** '' when numbers are never grouped. */
  groupSeparator: string;
}

/** A number as digits: `integer` without leading zeros ('' for zero). */
export interface DecimalDigits {
  negative: boolean;
  integer: string;
  fraction: string;
}

export type NumberParser = (text: string) => DecimalDigits | undefined;

/** What PostgreSQL's numeric holds: digits before the point, and after. */
export const numericMaxIntegerDigits = 131072;
export const numericMaxFractionDigits = 16383;

/**
 * Builds the parser of one locale's numbers. A grouping separator must
 * split the integer part in groups of exactly three digits (`12.5` under
 * pt-BR is no number, not 125); exponents, NaN and Infinity are refused,
 * since in ERP files they are a spreadsheet's rounding of a longer value.
 */
export function createNumberParser(format: NumberFormat): NumberParser {
  const decimal = escapeRegExp(format.decimalSeparator);
  const group =
    format.groupSeparator === ' '
      ? '[ \\u00A0\\u202F]'
      : escapeRegExp(format.groupSeparator);
  const integerPart =
    format.groupSeparator === ''
      ? '(\\d*)'
      : `(\\d{1,3}(?:${group}\\d{3})+|\\d*)`;
  const pattern = new RegExp(`^([+-]?)${integerPart}(?:${decimal}(\\d+))?$`);
  const groupPattern =
    format.groupSeparator === '' ? undefined : new RegExp(group, 'g');

  return (text) => {
    const match = pattern.exec(text);
    if (!match) return undefined;
    const sign = match[1] as string;
    let integer = match[2] as string;
    const fraction = match[3] ?? '';
    if (integer === '' && fraction === '') return undefined;

    if (groupPattern && integer.length > 3) {
      integer = integer.replace(groupPattern, '');
    }
    return {
      negative: sign === '-',
      integer: stripLeadingZeros(integer),
      fraction,
    };
  };
}

export function stripLeadingZeros(digits: string): string {
  let start = 0;
  while (start < digits.length && digits.charCodeAt(start) === 0x30) start++;
  return start === 0 ? digits : digits.slice(start);
}

export function stripTrailingZeros(digits: string): string {
  let end = digits.length;
  while (end > 0 && digits.charCodeAt(end - 1) === 0x30) end--;
  return end === digits.length ? digits : digits.slice(0, end);
}

/** Compares two digit strings without leading zeros, as numbers. */
export function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** How a locale writes numbers, for messages. */
export function describeNumberFormat(format: NumberFormat): string {
  const grouping =
    format.groupSeparator === ''
      ? 'no grouping'
      : `grouping "${format.groupSeparator}" in groups of 3 digits`;
  return `decimal separator "${format.decimalSeparator}", ${grouping}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

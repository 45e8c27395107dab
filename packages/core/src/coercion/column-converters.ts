import type {
  ColumnDefinition,
  Locale,
} from '../definitions/import-definition.js';
import { ErrorCodes, ImportError } from '../errors/import-error.js';
import { createBooleanWords, normalizeWord } from './boolean-words.js';
import {
  compileDateTimeFormat,
  fieldsFromSeconds,
  formatDate,
  formatOffset,
  formatTimestamp,
  maxOffsetSeconds,
  maxYear,
  minYear,
  parseIsoDateTime,
  matchFormats,
  roundToMicroseconds,
  wallSeconds,
  type CompiledFormat,
  type DateTimeFields,
} from './date-format.js';
import { findJsonbRefusal } from './jsonb-limits.js';
import {
  compareDigits,
  createNumberParser,
  describeNumberFormat,
  numericMaxFractionDigits,
  numericMaxIntegerDigits,
  stripTrailingZeros,
  type DecimalDigits,
} from './number-format.js';
import { createTimeZone, type TimeZone } from './time-zone.js';

/**
 * One converter per column type, built once per definition. A converter
 * takes a present, non-null value and returns PostgreSQL's text form of
 * it, null (a blank in a non-text column), or a failure. Failures are
 * returned rather than thrown: a file with many bad values must not pay
 * for a stack trace on each.
 */

export interface ValueFailure {
  code: string;
  message: string;
}

export type Converted = string | null | ValueFailure;
export type Converter = (value: string) => Converted;

export function isFailure(value: Converted): value is ValueFailure {
  return typeof value === 'object' && value !== null;
}

export function createConverter(
  column: ColumnDefinition,
  locale: Locale,
): Converter {
  switch (column.type) {
    case 'text':
      return textConverter(column);
    case 'integer':
      return integerConverter(locale, '2147483647', '2147483648', 'integer');
    case 'bigint':
      return integerConverter(
        locale,
        '9223372036854775807',
        '9223372036854775808',
        'bigint',
      );
    case 'numeric':
      return numericConverter(column, locale);
    case 'boolean':
      return booleanConverter(column);
    case 'date':
      return dateConverter(column, locale);
    case 'timestamp':
    case 'timestamptz':
      return timestampConverter(column, locale);
    case 'uuid':
      return uuidConverter;
    case 'jsonb':
      return jsonConverter;
  }
}

/**
 * Text stays as written. Over the length limit it fails, unless only
 * spaces overflow: PostgreSQL's varchar drops those, and so does this.
 * A lone UTF-16 surrogate (a JSON escape such as `\ud800` decodes to one)
 * has no UTF-8 form: written to COPY it would become U+FFFD, so it fails.
 */
function textConverter(column: ColumnDefinition): Converter {
  const limit = column.length;
  return (value) => {
    if (value.includes('\u0000')) {
      return {
        code: 'nul_character',
        message:
          'the value holds a NUL character (\\0), which text cannot store',
      };
    }
    if (!value.isWellFormed()) return loneSurrogateFailure();
    if (limit === undefined || value.length <= limit) return value;

    // Characters (code points) counted in place: an array of them, for a
    // value of a few MiB, would take a parse thread's whole heap.
    const cut = codePointOffset(value, limit);
    if (cut === value.length) return value;
    if (onlySpacesFrom(value, cut)) return value.slice(0, cut);
    return {
      code: 'too_long',
      message:
        `"${shorten(value)}" has ${codePointCount(value)} characters; ` +
        `the column takes at most ${limit}`,
    };
  };
}

function isPairAt(value: string, at: number): boolean {
  const high = value.charCodeAt(at);
  const low = value.charCodeAt(at + 1);
  return high >= 0xd800 && high <= 0xdbff && low >= 0xdc00 && low <= 0xdfff;
}

/** Where the value's first `count` characters end, in UTF-16 units. */
function codePointOffset(value: string, count: number): number {
  let at = 0;
  for (let seen = 0; seen < count && at < value.length; seen += 1) {
    at += isPairAt(value, at) ? 2 : 1;
  }
  return at;
}

function codePointCount(value: string): number {
  let count = 0;
  for (let at = 0; at < value.length; count += 1) {
    at += isPairAt(value, at) ? 2 : 1;
  }
  return count;
}

function onlySpacesFrom(value: string, from: number): boolean {
  for (let at = from; at < value.length; at += 1) {
    if (value.charCodeAt(at) !== 0x20) return false;
  }
  return true;
}

function integerConverter(
  locale: Locale,
  maximum: string,
  minimumMagnitude: string,
  typeName: string,
): Converter {
  const parse = createNumberParser(locale);
  const expected = describeNumberFormat(locale);
  return (value) => {
    const text = value.trim();
    if (text === '') return null;
    const digits = parse(text);
    if (digits === undefined) {
      return {
        code: 'invalid_integer',
        message: `"${shorten(value)}" is not a whole number (${expected})`,
      };
    }
    if (stripTrailingZeros(digits.fraction) !== '') {
      return {
        code: 'invalid_integer',
        message: `"${shorten(value)}" has a fraction; the column holds whole numbers`,
      };
    }
    const limit = digits.negative ? minimumMagnitude : maximum;
    if (compareDigits(digits.integer, limit) > 0) {
      return {
        code: 'out_of_range',
        message:
          `"${shorten(value)}" is out of range for ${typeName} ` +
          `(-${minimumMagnitude} to ${maximum})`,
      };
    }
    if (digits.integer === '') return '0';
    return digits.negative ? `-${digits.integer}` : digits.integer;
  };
}

/**
 * Exact decimals. More decimal places than the scale fails rather than
 * being rounded away (trailing zeros excepted); more integer digits than
 * precision minus scale overflows. Output is padded to the scale, as
 * PostgreSQL writes numeric(p,s) values. A numeric without precision
 * takes what PostgreSQL's numeric holds: 131072 digits before the point
 * and 16383 after.
 */
function numericConverter(column: ColumnDefinition, locale: Locale): Converter {
  const parse = createNumberParser(locale);
  const expected = describeNumberFormat(locale);
  const scale =
    column.scale ?? (column.precision !== undefined ? 0 : undefined);
  // Without a precision, the limits of numeric itself.
  const integerLimit =
    column.precision !== undefined
      ? column.precision - (scale ?? 0)
      : numericMaxIntegerDigits;
  const fractionLimit = scale ?? numericMaxFractionDigits;
  const declared =
    column.precision !== undefined
      ? `numeric(${column.precision},${scale ?? 0})`
      : 'numeric';

  return (value) => {
    const text = value.trim();
    if (text === '') return null;
    const digits = parse(text);
    if (digits === undefined) {
      return {
        code: 'invalid_number',
        message: `"${shorten(value)}" is not a number (${expected})`,
      };
    }

    let fraction = digits.fraction;
    if (fraction.length > fractionLimit) {
      const significant = stripTrailingZeros(fraction);
      if (significant.length > fractionLimit) {
        return {
          code: 'numeric_scale',
          message:
            `"${shorten(value)}" has ${significant.length} decimal places; ` +
            `${declared} keeps ${fractionLimit} and values are not rounded`,
        };
      }
      fraction = significant;
    }
    if (digits.integer.length > integerLimit) {
      return {
        code: 'numeric_overflow',
        message:
          `"${shorten(value)}" has ${digits.integer.length} digits before ` +
          `the decimal point; ${declared} allows ${integerLimit}`,
      };
    }
    if (scale !== undefined) fraction = fraction.padEnd(scale, '0');
    return formatDecimal(digits, fraction);
  };
}

function formatDecimal(digits: DecimalDigits, fraction: string): string {
  const integer = digits.integer === '' ? '0' : digits.integer;
  const isZero = digits.integer === '' && stripTrailingZeros(fraction) === '';
  const sign = digits.negative && !isZero ? '-' : '';
  return fraction === ''
    ? `${sign}${integer}`
    : `${sign}${integer}.${fraction}`;
}

function booleanConverter(column: ColumnDefinition): Converter {
  const words = createBooleanWords(column.trueValues, column.falseValues);
  return (value) => {
    const word = normalizeWord(value);
    if (word === '') return null;
    const found = words.get(word) ?? words.get(word.normalize('NFC'));
    if (found !== undefined) return found;
    return {
      code: 'invalid_boolean',
      message:
        `"${shorten(value)}" is not a boolean ` +
        `(expected one of: ${[...words.keys()].join(', ')})`,
    };
  };
}

function dateConverter(column: ColumnDefinition, locale: Locale): Converter {
  const formats = (column.formats ?? locale.dateFormats).map(
    compileDateTimeFormat,
  );
  const expected = formats.map((format) => format.format).join(' or ');
  return (value) => {
    const text = value.trim();
    if (text === '') return null;
    const matched = matchFormats(text, formats);
    if (matched === undefined) {
      return {
        code: 'invalid_date',
        message: `"${shorten(value)}" is not a valid date (expected ${expected})`,
      };
    }
    // Written as PostgreSQL writes it: nothing to rewrite.
    if (matched.format.canonical === 'date') return text;
    return formatDate(matched.fields);
  };
}

/**
 * Timestamps read the declared formats, then the locale's date formats (a
 * date alone is midnight), then ISO 8601. A value without an offset is a
 * wall time in the locale's zone: timestamptz gets that zone's offset
 * written out; a value with an offset bound for a timestamp column is
 * turned into the zone's wall time rather than having its offset dropped.
 *
 * What is written stays within what PostgreSQL reads back unchanged:
 * microseconds (more digits are rounded here, half up), offsets up to
 * 15:59, and the years 1 to 9999: a timestamp's wall time after the zone
 * conversion, a timestamptz's instant in UTC.
 */
function timestampConverter(
  column: ColumnDefinition,
  locale: Locale,
): Converter {
  const withZone = column.type === 'timestamptz';
  const declared = column.formats ?? [
    ...locale.timestampFormats,
    ...locale.dateFormats,
  ];
  const formats: CompiledFormat[] = declared.map(compileDateTimeFormat);
  const expected = [...declared, 'ISO 8601'].join(' or ');
  const zone = openTimeZone(locale.timeZone, column.name);

  return (value) => {
    const text = value.trim();
    if (text === '') return null;
    const matched = matchFormats(text, formats);
    // Written as PostgreSQL writes a timestamp, with no zone to apply.
    if (!withZone && matched?.format.canonical === 'timestamp') return text;
    const read = matched?.fields ?? parseIsoDateTime(text);
    if (read === undefined) {
      return {
        code: 'invalid_timestamp',
        message: `"${shorten(value)}" is not a valid timestamp (expected ${expected})`,
      };
    }

    const fields = read.fraction.length > 6 ? roundToMicroseconds(read) : read;
    const offset = fields.offsetSeconds;
    if (offset !== undefined && Math.abs(offset) > maxOffsetSeconds) {
      return {
        code: 'out_of_range',
        message:
          `"${shorten(value)}" has the offset ${formatOffset(offset)}; ` +
          'PostgreSQL reads offsets up to 15:59 either way',
      };
    }
    return withZone
      ? formatWithOffset(fields, zone, value)
      : toZoneWall(fields, zone, value);
  };
}

function formatWithOffset(
  fields: DateTimeFields,
  zone: TimeZone,
  value: string,
): Converted {
  const offset =
    fields.offsetSeconds ?? zone.offsetForWallTime(wallSeconds(fields));
  // Only a value in the first or the last year can leave the range in UTC.
  if (fields.year === minYear || fields.year >= maxYear) {
    const utc = fieldsFromSeconds(wallSeconds(fields) - offset, '');
    if (utc.year < minYear || utc.year > maxYear) {
      return outsideYears(value, `${formatTimestamp(utc)} in UTC`);
    }
  }
  return `${formatTimestamp(fields)}${formatOffset(offset)}`;
}

function toZoneWall(
  fields: DateTimeFields,
  zone: TimeZone,
  value: string,
): Converted {
  if (fields.offsetSeconds === undefined) {
    // Rounding up a fraction is the only way past the last year here.
    if (fields.year > maxYear) {
      return outsideYears(value, formatTimestamp(fields));
    }
    return formatTimestamp(fields);
  }
  const instant = wallSeconds(fields) - fields.offsetSeconds;
  const wall = fieldsFromSeconds(
    instant + zone.offsetAt(instant),
    fields.fraction,
  );
  if (wall.year < minYear || wall.year > maxYear) {
    return outsideYears(value, `${formatTimestamp(wall)} in ${zone.name}`);
  }
  return formatTimestamp(wall);
}

function outsideYears(value: string, reading: string): ValueFailure {
  return {
    code: 'out_of_range',
    message:
      `"${shorten(value)}" reads as ${reading}, outside the years ` +
      `${minYear} to ${maxYear} that timestamps are kept within`,
  };
}

function openTimeZone(name: string, column: string): TimeZone {
  try {
    return createTimeZone(name);
  } catch (error) {
    throw new ImportError(
      ErrorCodes.INVALID_DEFINITION,
      `column "${column}": the locale's time zone "${name}" is not an IANA zone`,
      { cause: error, details: { timeZone: name } },
    );
  }
}

const uuidPattern =
  /^\{?([0-9a-fA-F]{8})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{12})\}?$/;

function uuidConverter(value: string): Converted {
  const text = value.trim();
  if (text === '') return null;
  const match = uuidPattern.exec(text);
  const braced = text.startsWith('{') === text.endsWith('}');
  if (!match || !braced) {
    return {
      code: 'invalid_uuid',
      message: `"${shorten(value)}" is not a UUID (expected 8-4-4-4-12 hexadecimal digits)`,
    };
  }
  return match.slice(1, 6).join('-').toLowerCase();
}

/**
 * JSON is validated and passed through as written, when jsonb can store
 * it: see jsonb-limits.ts for what it refuses that JSON.parse takes.
 */
function jsonConverter(value: string): Converted {
  if (value.trim() === '') return null;
  try {
    JSON.parse(value);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return {
      code: 'invalid_json',
      message: `"${shorten(value)}" is not valid JSON: ${reason}`,
    };
  }
  if (!value.isWellFormed()) return loneSurrogateFailure();
  const refusal = findJsonbRefusal(value);
  if (refusal !== undefined) return { code: 'invalid_json', message: refusal };
  return value;
}

function loneSurrogateFailure(): ValueFailure {
  return {
    code: 'invalid_text',
    message:
      'the value holds half of a UTF-16 surrogate pair without its other ' +
      'half (such as the JSON escape \\ud800 alone), which is no character',
  };
}

/** Long values are cut in messages; the issue keeps the whole raw value. */
function shorten(value: string): string {
  return value.length <= 80 ? value : `${value.slice(0, 77)}...`;
}

/**
 * Dates and times read against declared formats (`dd/MM/yyyy HH:mm`) or
 * ISO 8601, into plain fields. Everything is calendar arithmetic on those
 * fields: no Date object and no process time zone is involved, so a date
 * never shifts with the machine it runs on.
 *
 * Format tokens: yyyy, yy, MM, M, dd, d, HH, H, mm, m, ss, s, S... (as many
 * fraction digits as letters), X... (an offset: Z, +HH, +HHMM, +HH:MM).
 * Text in single quotes and any other character are literals.
 */

export interface DateTimeFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Fraction-of-second digits as written, trailing zeros dropped. */
  fraction: string;
  /** The offset from UTC in seconds, when the value carries one. */
  offsetSeconds?: number;
  /** Whether the format or value had a time of day at all. */
  hasTime: boolean;
}

type Field =
  | 'year4'
  | 'year2'
  | 'month'
  | 'day'
  | 'hour'
  | 'minute'
  | 'second'
  | 'fraction'
  | 'offset';

export interface CompiledFormat {
  format: string;
  regex: RegExp;
  fields: Field[];
  hasTime: boolean;
  /**
   * A format of fixed-width digits and one-character literals only (as
   * `dd/MM/yyyy HH:mm:ss`) is read by position, without the regex: most
   * ERP files write every date of a column so, a million times over.
   */
  fixed?: FixedLayout;
  /**
   * The format is PostgreSQL's own text for the type (`yyyy-MM-dd`,
   * `yyyy-MM-dd HH:mm:ss`): a value it reads is written back as it came.
   */
  canonical?: 'date' | 'timestamp';
}

interface FixedLayout {
  length: number;
  /** [field, start, width] for each field, in the format's order. */
  fields: Array<[Field, number, number]>;
  /** [position, character code] of each literal character. */
  literals: Array<[number, number]>;
}

/** Widths of the tokens a fixed layout may hold. */
const fixedWidths: Record<string, number> = {
  yyyy: 4,
  yy: 2,
  MM: 2,
  dd: 2,
  HH: 2,
  mm: 2,
  ss: 2,
};

const tokens: Array<[RegExp, Field, (length: number) => string]> = [
  [/^yyyy/, 'year4', () => '(\\d{4})'],
  [/^yy/, 'year2', () => '(\\d{2})'],
  [/^MM/, 'month', () => '(\\d{2})'],
  [/^M/, 'month', () => '(\\d{1,2})'],
  [/^dd/, 'day', () => '(\\d{2})'],
  [/^d/, 'day', () => '(\\d{1,2})'],
  [/^HH/, 'hour', () => '(\\d{2})'],
  [/^H/, 'hour', () => '(\\d{1,2})'],
  [/^mm/, 'minute', () => '(\\d{2})'],
  [/^m/, 'minute', () => '(\\d{1,2})'],
  [/^ss/, 'second', () => '(\\d{2})'],
  [/^s/, 'second', () => '(\\d{1,2})'],
  [/^S+/, 'fraction', (length) => `(\\d{${length}})`],
  [/^X+/, 'offset', () => '(Z|z|[+-]\\d{2}(?::?\\d{2})?)'],
];

export function compileDateTimeFormat(format: string): CompiledFormat {
  let pattern = '^';
  const fields: Field[] = [];
  // The fixed layout, while the format allows one.
  let fixed: FixedLayout | undefined = { length: 0, fields: [], literals: [] };
  let rest = format;
  while (rest.length > 0) {
    if (rest.startsWith("'")) {
      const close = rest.indexOf("'", 1);
      const literal = close === -1 ? rest.slice(1) : rest.slice(1, close);
      pattern += escapeRegExp(literal);
      for (const character of literal) {
        fixed?.literals.push([fixed.length, character.charCodeAt(0)]);
        if (fixed) fixed.length += 1;
      }
      if (literal.length !== [...literal].length) fixed = undefined;
      rest = close === -1 ? '' : rest.slice(close + 1);
      continue;
    }
    const token = tokens.find(([expression]) => expression.test(rest));
    if (token) {
      const [expression, field, toPattern] = token;
      const text = (expression.exec(rest) as RegExpExecArray)[0];
      pattern += toPattern(text.length);
      fields.push(field);
      const width = fixedWidths[text];
      if (width === undefined) fixed = undefined;
      else if (fixed) {
        fixed.fields.push([field, fixed.length, width]);
        fixed.length += width;
      }
      rest = rest.slice(text.length);
      continue;
    }
    pattern += escapeRegExp(rest.charAt(0));
    const code = rest.charCodeAt(0);
    if (code >= 0xd800 && code <= 0xdfff) fixed = undefined;
    fixed?.literals.push([fixed.length, code]);
    if (fixed) fixed.length += 1;
    rest = rest.slice(1);
  }
  const hasTime = fields.some((field) => field === 'hour');
  const canonical =
    format === 'yyyy-MM-dd'
      ? 'date'
      : format === 'yyyy-MM-dd HH:mm:ss'
        ? 'timestamp'
        : undefined;
  return {
    format,
    regex: new RegExp(`${pattern}$`),
    fields,
    hasTime,
    ...(fixed !== undefined && { fixed }),
    ...(canonical !== undefined && { canonical }),
  };
}

/** Reads `text` with the first format that fits; undefined when none does. */
export function parseWithFormats(
  text: string,
  formats: readonly CompiledFormat[],
): DateTimeFields | undefined {
  return matchFormats(text, formats)?.fields;
}

/** `parseWithFormats`, also saying which format read the value. */
export function matchFormats(
  text: string,
  formats: readonly CompiledFormat[],
): { fields: DateTimeFields; format: CompiledFormat } | undefined {
  for (const format of formats) {
    let fields: DateTimeFields | undefined;
    if (format.fixed !== undefined) {
      fields = fixedFieldsOf(format, format.fixed, text);
    } else {
      const match = format.regex.exec(text);
      if (match) fields = fieldsOf(format, match);
    }
    if (fields) return { fields, format };
  }
  return undefined;
}

// The fixed layout's reading: the same fields `fieldsOf` gives from the
// regex's match, read by position.
function fixedFieldsOf(
  format: CompiledFormat,
  layout: FixedLayout,
  text: string,
): DateTimeFields | undefined {
  if (text.length !== layout.length) return undefined;
  for (const [position, code] of layout.literals) {
    if (text.charCodeAt(position) !== code) return undefined;
  }
  const result: DateTimeFields = {
    year: 0,
    month: 0,
    day: 0,
    hour: 0,
    minute: 0,
    second: 0,
    fraction: '',
    hasTime: format.hasTime,
  };
  for (const [field, start, width] of layout.fields) {
    let value = 0;
    for (let i = start; i < start + width; i++) {
      const digit = text.charCodeAt(i) - 0x30;
      if (digit < 0 || digit > 9) return undefined;
      value = value * 10 + digit;
    }
    switch (field) {
      case 'year4':
        result.year = value;
        break;
      case 'year2':
        // Two-digit years pivot at 50: 00-49 is 2000-2049.
        result.year = value + (value < 50 ? 2000 : 1900);
        break;
      case 'month':
        result.month = value;
        break;
      case 'day':
        result.day = value;
        break;
      case 'hour':
        result.hour = value;
        break;
      case 'minute':
        result.minute = value;
        break;
      case 'second':
        result.second = value;
        break;
      default:
        return undefined;
    }
  }
  return isValidDateTime(result) ? result : undefined;
}

function fieldsOf(
  format: CompiledFormat,
  match: RegExpExecArray,
): DateTimeFields | undefined {
  const result: DateTimeFields = {
    year: 0,
    month: 0,
    day: 0,
    hour: 0,
    minute: 0,
    second: 0,
    fraction: '',
    hasTime: format.hasTime,
  };
  for (let i = 0; i < format.fields.length; i++) {
    const value = match[i + 1] as string;
    switch (format.fields[i] as Field) {
      case 'year4':
        result.year = Number(value);
        break;
      case 'year2':
        // Two-digit years pivot at 50: 00-49 is 2000-2049.
        result.year = Number(value) + (Number(value) < 50 ? 2000 : 1900);
        break;
      case 'month':
        result.month = Number(value);
        break;
      case 'day':
        result.day = Number(value);
        break;
      case 'hour':
        result.hour = Number(value);
        break;
      case 'minute':
        result.minute = Number(value);
        break;
      case 'second':
        result.second = Number(value);
        break;
      case 'fraction':
        result.fraction = trimZeros(value);
        break;
      case 'offset': {
        const offset = parseOffset(value);
        if (offset === undefined) return undefined;
        result.offsetSeconds = offset;
        break;
      }
    }
  }
  return isValidDateTime(result) ? result : undefined;
}

const isoPattern =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * ISO 8601 as ERP systems write it: `2024-06-01`, `2024-06-01T10:00`,
 * `2024-06-01 10:00:00.123-03:00`, `...Z`. Up to nine fraction digits are
 * taken (.NET writes seven); `roundToMicroseconds` keeps what PostgreSQL
 * can.
 */
export function parseIsoDateTime(text: string): DateTimeFields | undefined {
  const match = isoPattern.exec(text);
  if (!match) return undefined;
  const hasTime = match[4] !== undefined;
  if (!hasTime && match[8] !== undefined) return undefined;
  const fields: DateTimeFields = {
    year: Number(match[1]),
    month: Number(match[2]),
    day: Number(match[3]),
    hour: hasTime ? Number(match[4]) : 0,
    minute: hasTime ? Number(match[5]) : 0,
    second: match[6] === undefined ? 0 : Number(match[6]),
    fraction: match[7] === undefined ? '' : trimZeros(match[7]),
    hasTime,
  };
  if (match[8] !== undefined) {
    const offset = parseOffset(match[8]);
    if (offset === undefined) return undefined;
    fields.offsetSeconds = offset;
  }
  return isValidDateTime(fields) ? fields : undefined;
}

function parseOffset(text: string): number | undefined {
  if (text === 'Z' || text === 'z') return 0;
  const sign = text.startsWith('-') ? -1 : 1;
  const digits = text.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
  if (hours > 23 || minutes > 59) return undefined;
  return sign * (hours * 3600 + minutes * 60);
}

/** The widest offset PostgreSQL reads, either way: 15:59:59. */
export const maxOffsetSeconds = 15 * 3600 + 59 * 60 + 59;

/** The years a date or timestamp is kept within: no BC, no year 10000. */
export const minYear = 1;
export const maxYear = 9999;

/**
 * The fields with the fraction rounded, half up, to microseconds (what
 * PostgreSQL keeps), carrying into the seconds and on up to the year.
 * PostgreSQL would round as well; rounding first lets a range check see
 * the value that is stored: `9999-12-31 23:59:59.9999995` is year 10000.
 */
export function roundToMicroseconds(fields: DateTimeFields): DateTimeFields {
  const { fraction } = fields;
  if (fraction.length <= 6) return fields;
  const kept = fraction.slice(0, 6);
  if (fraction.charCodeAt(6) < 0x35) {
    return { ...fields, fraction: trimZeros(kept) };
  }
  const micros = Number(kept) + 1;
  if (micros < 1_000_000) {
    return { ...fields, fraction: trimZeros(String(micros).padStart(6, '0')) };
  }
  return {
    ...fieldsFromSeconds(wallSeconds(fields) + 1, ''),
    hasTime: fields.hasTime,
    ...(fields.offsetSeconds !== undefined && {
      offsetSeconds: fields.offsetSeconds,
    }),
  };
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const monthDays = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : (monthDays[month - 1] ?? 0);
}

// Hour 24 (ISO 8601's end of day) and second 60 (a leap second) are
// refused. PostgreSQL takes `24:00:00` and `23:59:60` and silently rolls
// them over into the next day; refusing them lets the sender say which
// day was meant.
function isValidDateTime(fields: DateTimeFields): boolean {
  return (
    fields.year >= minYear &&
    fields.year <= maxYear &&
    fields.month >= 1 &&
    fields.month <= 12 &&
    fields.day >= 1 &&
    fields.day <= daysInMonth(fields.year, fields.month) &&
    fields.hour <= 23 &&
    fields.minute <= 59 &&
    fields.second <= 59
  );
}

/** Days since 1970-01-01 of a proleptic Gregorian date. */
export function daysFromCivil(
  year: number,
  month: number,
  day: number,
): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const monthIndex = (month + 9) % 12;
  const dayOfYear = Math.floor((153 * monthIndex + 2) / 5) + day - 1;
  const dayOfEra =
    yearOfEra * 365 +
    Math.floor(yearOfEra / 4) -
    Math.floor(yearOfEra / 100) +
    dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

/** The date of a day count since 1970-01-01. */
export function civilFromDays(days: number): {
  year: number;
  month: number;
  day: number;
} {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36524) -
      Math.floor(dayOfEra / 146096)) /
      365,
  );
  const dayOfYear =
    dayOfEra -
    (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthIndex = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthIndex + 2) / 5) + 1;
  const month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9;
  return { year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/** Seconds since the epoch of a wall-clock time read as UTC. */
export function wallSeconds(fields: DateTimeFields): number {
  return (
    daysFromCivil(fields.year, fields.month, fields.day) * 86400 +
    fields.hour * 3600 +
    fields.minute * 60 +
    fields.second
  );
}

/** The wall-clock fields of seconds since the epoch, read as UTC. */
export function fieldsFromSeconds(
  seconds: number,
  fraction: string,
): DateTimeFields {
  const days = Math.floor(seconds / 86400);
  let rest = seconds - days * 86400;
  const hour = Math.floor(rest / 3600);
  rest -= hour * 3600;
  const minute = Math.floor(rest / 60);
  return {
    ...civilFromDays(days),
    hour,
    minute,
    second: rest - minute * 60,
    fraction,
    hasTime: true,
  };
}

export function formatDate(fields: DateTimeFields): string {
  return `${pad(fields.year, 4)}-${pad(fields.month, 2)}-${pad(fields.day, 2)}`;
}

export function formatTimestamp(fields: DateTimeFields): string {
  const fraction = fields.fraction === '' ? '' : `.${fields.fraction}`;
  return (
    `${formatDate(fields)} ${pad(fields.hour, 2)}:${pad(fields.minute, 2)}:` +
    `${pad(fields.second, 2)}${fraction}`
  );
}

/** `+HH:MM`, or `+HH:MM:SS` for the odd historical offset. */
export function formatOffset(offsetSeconds: number): string {
  const sign = offsetSeconds < 0 ? '-' : '+';
  const total = Math.abs(offsetSeconds);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  return (
    `${sign}${pad(hours, 2)}:${pad(minutes, 2)}` +
    (seconds === 0 ? '' : `:${pad(seconds, 2)}`)
  );
}

function pad(value: number, width: number): string {
  const text = String(value);
  return text.length >= width ? text : text.padStart(width, '0');
}

function trimZeros(digits: string): string {
  let end = digits.length;
  while (end > 0 && digits.charCodeAt(end - 1) === 0x30) end--;
  return digits.slice(0, end);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

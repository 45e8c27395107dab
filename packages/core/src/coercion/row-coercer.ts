import type {
  ColumnDefinition,
  ImportDefinition,
  Locale,
} from '../definitions/import-definition.js';
import type { RowIssue } from '../ports/error-log.js';
import type { MappedRecord, RawValue } from '../readers/record-reader.js';
import type { CoercionResult } from './coerced-row.js';
import {
  createConverter,
  isFailure,
  type Converter,
} from './column-converters.js';

interface ColumnPlan {
  name: string;
  nullable: boolean;
  convert: Converter;
  /** For a value that was a JSON number: JSON's syntax, not the locale's. */
  convertNumber: Converter;
  /** The column's `default`, read when the field holds nothing. */
  fallback: string | undefined;
  /** `emptyMeansKeep`: nothing here keeps the stored value. */
  keep: boolean;
}

/**
 * Builds the function that reads a mapped record's raw values with each
 * column's type, into PostgreSQL's text form (or null). All the work that
 * depends only on the definition (number patterns, date formats, the time
 * zone) is done here, once.
 *
 * Per value: an absent field or a null reads as NULL; a declared null
 * token (matched as written, or trimmed) too; a quoted empty string stays
 * '' in a text column and is NULL in any other. A column's `default` is
 * read in place of any of those, as if the file held it (`stripPrefix`
 * is the readers' business, done before records get here). A NULL in a
 * key or NOT NULL column is a `required` issue, unless the column says
 * `emptyMeansKeep`: then the row lists it in `kept`, and an update leaves
 * the stored value. Every failing value of a record is reported, not only
 * the first.
 *
 * A value the reader lists in `numbers` was a JSON number: a number
 * column reads it with `.` as its decimal point and no grouping, whatever
 * the locale says (`1.234` is not 1234 under pt-BR), and refuses an
 * exponent as it does in any other value.
 */
export function createRowCoercer(
  definition: ImportDefinition,
): (record: MappedRecord) => CoercionResult {
  const plans: ColumnPlan[] = definition.columns.map((column) => {
    const convert = createConverter(column, definition.locale);
    return {
      name: column.name,
      nullable: column.nullable,
      convert,
      convertNumber: isNumberColumn(column)
        ? createConverter(column, { ...definition.locale, ...jsonNumbers })
        : convert,
      fallback: column.default,
      keep: column.emptyMeansKeep === true,
    };
  });
  const nullTokens = new Set(definition.nullTokens);
  const isNullToken =
    nullTokens.size === 0
      ? () => false
      : (value: string) =>
          nullTokens.has(value) ||
          (hasOuterSpace(value) && nullTokens.has(value.trim()));

  return (record) => {
    const raw = record.values;
    const numbers = record.numbers;
    const values = new Array<string | null>(plans.length);
    let issues: RowIssue[] | undefined;
    let kept: number[] | undefined;

    for (let i = 0; i < plans.length; i++) {
      const plan = plans[i] as ColumnPlan;
      const written: RawValue = raw[i];
      // A declared default stands in for a field that holds nothing.
      const value: RawValue =
        plan.fallback !== undefined &&
        (written === undefined ||
          written === null ||
          written === '' ||
          isNullToken(written))
          ? plan.fallback
          : written;

      let converted: string | null;
      if (value === undefined || value === null || isNullToken(value)) {
        converted = null;
      } else {
        const result =
          numbers !== undefined && value === written && numbers.includes(i)
            ? plan.convertNumber(value)
            : plan.convert(value);
        if (isFailure(result)) {
          (issues ??= []).push({
            severity: 'error',
            position: record.position,
            column: plan.name,
            code: result.code,
            message: `${plan.name}: ${result.message}`,
            rawValue: written ?? null,
            ...(record.entity !== undefined && { entity: record.entity }),
          });
          continue;
        }
        converted = result;
      }

      if (converted === null && plan.keep) {
        // The loader keeps the stored value; a new row gets NULL, which a
        // NOT NULL target refuses for that row alone.
        (kept ??= []).push(i);
        values[i] = null;
        continue;
      }
      if (converted === null && !plan.nullable) {
        (issues ??= []).push({
          severity: 'error',
          position: record.position,
          column: plan.name,
          code: 'required',
          message: `${plan.name}: a value is required but the field is ${describeEmpty(written)}`,
          rawValue: written ?? null,
          ...(record.entity !== undefined && { entity: record.entity }),
        });
        continue;
      }
      values[i] = converted;
    }

    if (issues) return { ok: false, issues };
    return {
      ok: true,
      row: {
        position: record.position,
        values,
        ...(record.entity !== undefined && { entity: record.entity }),
        ...(kept !== undefined && { kept }),
      },
    };
  };
}

/** How a JSON number is written, whatever the locale. */
const jsonNumbers: Pick<Locale, 'decimalSeparator' | 'groupSeparator'> = {
  decimalSeparator: '.',
  groupSeparator: '',
};

function isNumberColumn(column: ColumnDefinition): boolean {
  return (
    column.type === 'integer' ||
    column.type === 'bigint' ||
    column.type === 'numeric'
  );
}

function hasOuterSpace(value: string): boolean {
  return (
    value.length > 0 &&
    (value.charCodeAt(0) <= 0x20 || value.charCodeAt(value.length - 1) <= 0x20)
  );
}

function describeEmpty(value: RawValue): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'empty';
  if (value.trim() === '') return 'blank';
  return `a null token ("${value}")`;
}

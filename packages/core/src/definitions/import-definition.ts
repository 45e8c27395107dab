import { z } from 'zod';
import { ErrorCodes, ImportError } from '../errors/import-error.js';

/**
 * An import definition names an entity a client may send and says how its
 * records land in one PostgreSQL table. Definitions are validated when
 * they are registered; every identifier in them is quoted when SQL is
 * built, so nothing here ever becomes SQL text unquoted.
 */

export const columnTypes = [
  'text',
  'integer',
  'bigint',
  'numeric',
  'boolean',
  'date',
  'timestamp',
  'timestamptz',
  'uuid',
  'jsonb',
] as const;

export type ColumnType = (typeof columnTypes)[number];

// PostgreSQL truncates identifiers at 63 bytes; refuse them instead.
const identifier = z
  .string()
  .min(1)
  .refine((value) => Buffer.byteLength(value, 'utf8') <= 63, {
    message: 'identifiers are at most 63 bytes',
  })
  .refine((value) => !value.includes('\u0000'), {
    message: 'identifiers cannot hold NUL',
  });

export const localeSchema = z.object({
  /** The decimal separator of numbers: `.` (en-US) or `,` (pt-BR). */
  decimalSeparator: z.enum(['.', ',']).default('.'),
  /** The grouping separator, or '' when numbers are never grouped. */
  groupSeparator: z.enum([',', '.', ' ', "'", '']).default(''),
  /** Date formats tried in order, such as `dd/MM/yyyy`. */
  dateFormats: z.array(z.string().min(1)).min(1).default(['yyyy-MM-dd']),
  /** Timestamp formats tried in order; ISO 8601 is always accepted too. */
  timestampFormats: z.array(z.string().min(1)).default([]),
  /** The IANA zone a timestamp without an offset is read in. */
  timeZone: z.string().min(1).default('UTC'),
});

export type Locale = z.output<typeof localeSchema>;
export type LocaleInput = z.input<typeof localeSchema>;

/** Named locales, so a definition can say `locale: 'pt-BR'`. */
export const localePresets = {
  'en-US': {
    decimalSeparator: '.',
    groupSeparator: ',',
    dateFormats: ['yyyy-MM-dd', 'MM/dd/yyyy'],
    timestampFormats: [],
    timeZone: 'UTC',
  },
  'pt-BR': {
    decimalSeparator: ',',
    groupSeparator: '.',
    dateFormats: ['dd/MM/yyyy', 'yyyy-MM-dd'],
    timestampFormats: ['dd/MM/yyyy HH:mm:ss', 'dd/MM/yyyy HH:mm'],
    timeZone: 'America/Sao_Paulo',
  },
  iso: {
    decimalSeparator: '.',
    groupSeparator: '',
    dateFormats: ['yyyy-MM-dd'],
    timestampFormats: [],
    timeZone: 'UTC',
  },
} as const satisfies Record<string, Locale>;

export type LocaleName = keyof typeof localePresets;

export const columnSchema = z.object({
  /** The target column's name. */
  name: identifier,
  type: z.enum(columnTypes),
  /** text: the maximum length in characters. */
  length: z.number().int().positive().optional(),
  /** numeric: total digits and digits after the point. */
  precision: z.number().int().min(1).max(1000).optional(),
  scale: z.number().int().min(0).max(1000).optional(),
  /** Key columns are never nullable; others are unless they say so. */
  nullable: z.boolean().optional(),
  /**
   * Header names (CSV) that map to this column, matched after trimming,
   * case- and accent-insensitively. The column's own name always matches.
   */
  source: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
  /** A dotted path inside a JSON record or an XML record element. */
  path: z.string().min(1).optional(),
  /** date/timestamp: formats that override the locale's. */
  formats: z.array(z.string().min(1)).min(1).optional(),
  /** boolean: extra words read as true or false, case-insensitively. */
  trueValues: z.array(z.string()).optional(),
  falseValues: z.array(z.string()).optional(),
});

export type ColumnInput = z.input<typeof columnSchema>;

export const definitionSchema = z
  .object({
    /** The name clients send, such as `customers`. */
    entity: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, _ or -'),
    /** The target table, and its schema when not on the search path. */
    table: identifier,
    schema: identifier.optional(),
    /** The columns whose values identify a row. */
    key: z.array(identifier).min(1),
    columns: z.array(columnSchema).min(1),
    /**
     * A text column that holds the tenant. It is not read from the file:
     * the engine fills it with the importing tenant and it is part of the
     * key, so a tenant can never touch another tenant's rows.
     */
    tenantColumn: identifier.optional(),
    /** Field values read as NULL, such as `NULL` or `\N`. */
    nullTokens: z.array(z.string()).default([]),
    locale: z
      .union([z.enum(['en-US', 'pt-BR', 'iso']), localeSchema])
      .default('iso'),
    /** What a source field no column maps to does: ignored, or fails. */
    unknownFields: z.enum(['ignore', 'fail']).default('ignore'),
    /** A short text for `GET /entities`. */
    description: z.string().optional(),
  })
  .superRefine((definition, context) => {
    const names = new Set<string>();
    for (const column of definition.columns) {
      if (names.has(column.name)) {
        context.addIssue({
          code: 'custom',
          path: ['columns'],
          message: `column "${column.name}" is declared twice`,
        });
      }
      names.add(column.name);
      if (column.type === 'numeric' && column.scale !== undefined) {
        const precision = column.precision ?? 1000;
        if (column.scale > precision) {
          context.addIssue({
            code: 'custom',
            path: ['columns'],
            message: `column "${column.name}": scale exceeds precision`,
          });
        }
      }
    }
    for (const key of definition.key) {
      if (!names.has(key)) {
        context.addIssue({
          code: 'custom',
          path: ['key'],
          message: `key column "${key}" is not among the columns`,
        });
      }
    }
    if (definition.tenantColumn && names.has(definition.tenantColumn)) {
      context.addIssue({
        code: 'custom',
        path: ['tenantColumn'],
        message: 'the tenant column is filled by the engine, not declared',
      });
    }
  });

export type ImportDefinitionInput = z.input<typeof definitionSchema>;

export interface ColumnDefinition {
  name: string;
  type: ColumnType;
  length?: number;
  precision?: number;
  scale?: number;
  nullable: boolean;
  /** Every name this column answers to, the column's own name first. */
  sources: string[];
  path?: string;
  formats?: string[];
  trueValues?: string[];
  falseValues?: string[];
  isKey: boolean;
}

export interface ImportDefinition {
  entity: string;
  table: string;
  schema?: string;
  key: string[];
  columns: ColumnDefinition[];
  tenantColumn?: string;
  nullTokens: string[];
  locale: Locale;
  unknownFields: 'ignore' | 'fail';
  description?: string;
}

/**
 * Validates a definition and fills in its defaults. Throws an ImportError
 * with code INVALID_DEFINITION naming every problem found.
 */
export function defineImport(input: ImportDefinitionInput): ImportDefinition {
  const parsed = definitionSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
    throw new ImportError(
      ErrorCodes.INVALID_DEFINITION,
      `invalid import definition: ${problems}`,
      { cause: parsed.error, details: { entity: input.entity } },
    );
  }

  const value = parsed.data;
  const keys = new Set(value.key);
  const locale: Locale =
    typeof value.locale === 'string'
      ? structuredClone(localePresets[value.locale]) as Locale
      : value.locale;

  const columns = value.columns.map((column): ColumnDefinition => {
    const aliases =
      column.source === undefined
        ? []
        : Array.isArray(column.source)
          ? column.source
          : [column.source];
    const isKey = keys.has(column.name);
    return {
      name: column.name,
      type: column.type,
      ...(column.length !== undefined && { length: column.length }),
      ...(column.precision !== undefined && { precision: column.precision }),
      ...(column.scale !== undefined && { scale: column.scale }),
      nullable: isKey ? false : (column.nullable ?? true),
      sources: [column.name, ...aliases.filter((a) => a !== column.name)],
      ...(column.path !== undefined && { path: column.path }),
      ...(column.formats !== undefined && { formats: column.formats }),
      ...(column.trueValues !== undefined && {
        trueValues: column.trueValues,
      }),
      ...(column.falseValues !== undefined && {
        falseValues: column.falseValues,
      }),
      isKey,
    };
  });

  return {
    entity: value.entity,
    table: value.table,
    ...(value.schema !== undefined && { schema: value.schema }),
    key: value.key,
    columns,
    ...(value.tenantColumn !== undefined && {
      tenantColumn: value.tenantColumn,
    }),
    nullTokens: value.nullTokens,
    locale,
    unknownFields: value.unknownFields,
    ...(value.description !== undefined && {
      description: value.description,
    }),
  };
}

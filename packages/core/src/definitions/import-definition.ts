import { z } from 'zod';
import { ErrorCodes, ImportError } from '../errors/import-error.js';
import { mergeModes, type MergeMode } from '../ports/import-record.js';
import { normalizeFieldName } from './field-names.js';
import {
  parseJsonPath,
  parseXmlRecordPath,
  parseXmlValuePath,
  PathSyntaxError,
  prefixesOf,
} from './record-paths.js';

/**
 * An import definition names an entity a client may send and says how its
 * records land in one PostgreSQL table. Definitions are validated when
 * they are registered; every identifier in them is quoted when SQL is
 * built, so nothing here ever becomes SQL text unquoted. Every object in
 * a definition is strict: a member this file does not declare (a typo
 * such as `recrods`) is refused rather than silently dropped.
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

export const localeSchema = z.strictObject({
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

export const columnSchema = z.strictObject({
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
  /**
   * Where the value sits in a JSON record (`address.city`) or relative to
   * an XML record element (`prod/cProd`, `@number`, `../@Id`); see
   * record-paths.ts for the syntax. Without it, JSON reads the key and
   * XML the child element named like the column or one of its sources.
   */
  path: z.string().min(1).optional(),
  /**
   * Child records only: the value of this column of the parent record
   * (an invoice's key copied onto each of its lines).
   */
  fromParent: identifier.optional(),
  /**
   * Child records only: the 1-based position of the child within its
   * parent, for files whose lines carry no number of their own.
   */
  ordinal: z.literal(true).optional(),
  /**
   * A literal prefix removed from the value when the value starts with
   * it (the `NFe` before an NF-e access key in `infNFe/@Id`). A value
   * without the prefix is kept as written.
   */
  stripPrefix: z.string().min(1).optional(),
  /**
   * Read in place of a field that is empty, absent or a null token, as
   * if the file held this text. `''` keeps an empty part of a key (the
   * `ex` of the IBPT table) an empty string instead of a NULL.
   */
  default: z.string().optional(),
  /** date/timestamp: formats that override the locale's. */
  formats: z.array(z.string().min(1)).min(1).optional(),
  /** boolean: extra words read as true or false, case-insensitively. */
  trueValues: z.array(z.string()).optional(),
  falseValues: z.array(z.string()).optional(),
  /**
   * In an update, a field that holds nothing (absent, empty or a null
   * token) keeps the stored value instead of writing NULL. A new row
   * still gets NULL. Not for key columns.
   */
  emptyMeansKeep: z.boolean().optional(),
});

export type ColumnInput = z.input<typeof columnSchema>;

const entityName = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, _ or -');

const recordsSchema = z.strictObject({
  /**
   * JSON: the dotted path of the array that holds the records inside the
   * top-level object (`data.items`). Absent: the document is an array of
   * records (or, as NDJSON, one record a line).
   */
  jsonPath: z.string().min(1).optional(),
  /**
   * XML: the path of the record elements from the root, such as
   * `/Orders/Order` or `//nfe:infNFe`. Absent: every child of the root
   * element is a record.
   */
  xmlPath: z.string().min(1).optional(),
});

/**
 * A child record type: rows of another table found inside each parent
 * record (the `det` lines of an NF-e, the `details` array of an order).
 * Everything a definition has, less the tenant column (the parent's
 * applies) and nested children, plus where the children are.
 */
export const childSchema = z.strictObject({
  entity: entityName,
  table: identifier,
  schema: identifier.optional(),
  key: z.array(identifier).min(1),
  columns: z.array(columnSchema).min(1),
  /**
   * Where the children are under the parent record: a dotted JSON path to
   * an array (`details`) or an XML element path whose every match is one
   * child (`det`, `Lines/Line`). Either way it is a list, whether it
   * holds one child, many or none.
   */
  path: z.string().min(1),
  /** Defaults to the parent's. */
  tenantColumn: identifier.optional(),
  nullTokens: z.array(z.string()).optional(),
  locale: z.union([z.enum(['en-US', 'pt-BR', 'iso']), localeSchema]).optional(),
  unknownFields: z.enum(['ignore', 'fail']).optional(),
  repeated: z.array(z.string().min(1)).optional(),
  description: z.string().optional(),
  children: z
    .never({
      error:
        'a child record cannot have children of its own; only one level ' +
        'of children is supported',
    })
    .optional(),
});

export type ChildDefinitionInput = z.input<typeof childSchema>;

// How a scope column is declared: a name (a text column) or a typed one.
const scopeColumnSchema = z.union([
  identifier,
  z.strictObject({
    name: identifier,
    type: z.enum(columnTypes).default('text'),
    length: z.number().int().positive().optional(),
    precision: z.number().int().min(1).max(1000).optional(),
    scale: z.number().int().min(0).max(1000).optional(),
  }),
]);

/** The members that say how rows are applied (issue 8). */
const loadSchemaShape = {
  /** How rows meet the target; `upsert` by default. */
  mode: z.enum(mergeModes).default('upsert'),
  /** Modes an import may ask for instead; the definition's own always. */
  allowedModes: z.array(z.enum(mergeModes)).optional(),
  /**
   * Target columns whose values come from the import's parameters (a
   * company, a fiscal year), not from the file: written into every row,
   * matched like the key, and the part of the table a sync replaces.
   */
  scope: z.array(scopeColumnSchema).optional(),
  /**
   * Sync: mark the rows the file no longer holds instead of deleting
   * them; `timestamp` sets the column to now() (alive while NULL),
   * `false` sets it to false (alive while not false). A row that comes
   * back is made alive again.
   */
  softDelete: z
    .strictObject({
      column: identifier,
      mark: z.enum(['timestamp', 'false']).default('timestamp'),
    })
    .optional(),
  /**
   * Sync: the share (0 to 1) of the scope's rows an import may delete;
   * more fails it with SYNC_BRAKE unless it allows a mass delete. No
   * limit when absent.
   */
  maxDeleteShare: z.number().min(0).max(1).optional(),
  /** More rejected records than this fail the import; 0: all or nothing. */
  maxRejected: z.number().int().min(0).optional(),
  /** The same as a share (0 to 1) of the records read. */
  maxRejectedShare: z.number().min(0).max(1).optional(),
  /**
   * A column holding the export's version of a row (a timestamp or a
   * sequence): a row older than the stored one is skipped (`stale_row`).
   */
  versionColumn: identifier.optional(),
  /**
   * Keep before-images of the rows each import changes (for the host's
   * `beforeImageRetentionMs`), so that an import can be reverted. The
   * host may turn it on for every definition instead.
   */
  keepBeforeImages: z.boolean().optional(),
};

export const definitionSchema = z
  .strictObject({
    /** The name clients send, such as `customers`. */
    entity: entityName,
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
    /** Where the records are in a JSON or XML document. */
    records: recordsSchema.optional(),
    /**
     * XML: prefix to namespace URI, for the prefixes used in paths. The
     * document may use other prefixes (or a default namespace) for the
     * same URIs; matching is by URI.
     */
    namespaces: z.record(z.string().min(1), z.string().min(1)).optional(),
    /**
     * XML element paths, relative to the record, that are lists whether
     * they occur once, many times or never. A jsonb column mapped to one
     * receives a JSON array of the elements' texts; any other path that
     * matches more than one element is a row error. Child paths are
     * always lists and need not be listed.
     */
    repeated: z.array(z.string().min(1)).optional(),
    /** Child records inside each record, each landing in its own table. */
    children: z.array(childSchema).optional(),
    ...loadSchemaShape,
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
    checkRecordMapping(definition, context);
    checkLoadSettings(definition, context);
    checkLocales(definition, context);
    checkHeaderNames(definition, context);
  });

type DefinitionShape = z.output<typeof definitionSchema>;

/** Modes, scope, soft delete and version column, checked together. */
function checkLoadSettings(
  definition: DefinitionShape,
  context: IssueSink,
): void {
  const report = (path: PropertyKey[], message: string) =>
    context.addIssue({ code: 'custom', path, message, input: definition });
  const columns = new Map(definition.columns.map((c) => [c.name, c]));
  const keys = new Set(definition.key);

  for (const column of definition.columns) {
    if (column.emptyMeansKeep === true && keys.has(column.name)) {
      report(['columns'], `key column "${column.name}" cannot keep values`);
    }
  }
  const taken = new Set([
    ...columns.keys(),
    ...(definition.tenantColumn === undefined ? [] : [definition.tenantColumn]),
  ]);
  for (const entry of definition.scope ?? []) {
    const name = typeof entry === 'string' ? entry : entry.name;
    if (taken.has(name)) {
      report(['scope'], `scope column "${name}" is declared twice`);
    }
    taken.add(name);
  }
  if (definition.softDelete && taken.has(definition.softDelete.column)) {
    report(
      ['softDelete'],
      `"${definition.softDelete.column}" is written by the import; a ` +
        'soft-delete column must be one the file does not fill',
    );
  }
  const version = definition.versionColumn;
  if (version !== undefined && (!columns.has(version) || keys.has(version))) {
    report(
      ['versionColumn'],
      `the version column "${version}" must be a non-key column`,
    );
  }
}

/**
 * Each declared locale: a time zone Intl knows (every timestamp without
 * an offset is read in it) and two separators that differ (with the same
 * character for both, `1,234,56` would read as 1234.56).
 */
function checkLocales(definition: DefinitionShape, context: IssueSink): void {
  const report = (path: PropertyKey[], message: string) =>
    context.addIssue({ code: 'custom', path, message, input: definition });
  const locales: Array<[PropertyKey[], DefinitionShape['locale'] | undefined]> =
    [
      [['locale'], definition.locale],
      ...(definition.children ?? []).map(
        (child, index): [PropertyKey[], ChildShape['locale']] => [
          ['children', index, 'locale'],
          child.locale,
        ],
      ),
    ];
  for (const [where, locale] of locales) {
    if (locale === undefined || typeof locale === 'string') continue;
    if (!isTimeZone(locale.timeZone)) {
      report(
        [...where, 'timeZone'],
        `the time zone "${locale.timeZone}" is not an IANA zone`,
      );
    }
    if (locale.decimalSeparator === locale.groupSeparator) {
      report(
        [...where, 'groupSeparator'],
        `"${locale.groupSeparator}" cannot separate both decimals and ` +
          'groups of digits',
      );
    }
  }
}

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/**
 * A CSV header names a column by any of its names, compared the way
 * `normalizeFieldName` reads them (trimmed, case- and accent-insensitive):
 * two columns that answer to the same name would fail every CSV import.
 * Children are never read from a header.
 */
function checkHeaderNames(
  definition: DefinitionShape,
  context: IssueSink,
): void {
  const report = (message: string) =>
    context.addIssue({
      code: 'custom',
      path: ['columns'],
      message,
      input: definition,
    });
  const owners = new Map<string, string>();
  for (const column of definition.columns) {
    const aliases =
      column.source === undefined
        ? []
        : Array.isArray(column.source)
          ? column.source
          : [column.source];
    for (const name of [column.name, ...aliases]) {
      const normalized = normalizeFieldName(name);
      const owner = owners.get(normalized);
      if (normalized === '') {
        report(`column "${column.name}": the name "${name}" is blank`);
      } else if (owner !== undefined && owner !== column.name) {
        report(
          `columns "${owner}" and "${column.name}" both answer to the ` +
            `header name "${name}" (names match trimmed, case- and ` +
            'accent-insensitively)',
        );
      } else {
        owners.set(normalized, column.name);
      }
    }
  }
}

type ChildShape = z.output<typeof childSchema>;
type IssueSink = { addIssue(issue: z.core.$ZodRawIssue): void };

/**
 * The checks of record locations, paths, namespaces and children, which
 * the object schema cannot express field by field.
 */
function checkRecordMapping(
  definition: DefinitionShape,
  context: IssueSink,
): void {
  const report = (path: PropertyKey[], message: string) =>
    context.addIssue({ code: 'custom', path, message, input: definition });
  const namespaces = definition.namespaces ?? {};
  // XML paths are checked when the definition says it reads XML; a JSON
  // key may legitimately hold a colon or an at sign.
  const readsXml =
    definition.records?.xmlPath !== undefined ||
    Object.keys(namespaces).length > 0;

  const checkXml = (path: string, where: PropertyKey[], asRecord = false) => {
    if (!readsXml) return;
    try {
      const parsed = asRecord
        ? parseXmlRecordPath(path)
        : parseXmlValuePath(path);
      for (const prefix of prefixesOf(parsed)) {
        if (!Object.hasOwn(namespaces, prefix)) {
          report(where, `"${path}": the prefix "${prefix}" is not declared`);
        }
      }
    } catch (error) {
      if (!(error instanceof PathSyntaxError)) throw error;
      report(where, error.message);
    }
  };
  const checkJson = (path: string, where: PropertyKey[]) => {
    try {
      parseJsonPath(path);
    } catch (error) {
      if (!(error instanceof PathSyntaxError)) throw error;
      report(where, error.message);
    }
  };

  if (definition.records?.xmlPath !== undefined) {
    checkXml(definition.records.xmlPath, ['records', 'xmlPath'], true);
  }
  if (definition.records?.jsonPath !== undefined) {
    checkJson(definition.records.jsonPath, ['records', 'jsonPath']);
  }
  for (const path of definition.repeated ?? []) {
    checkXml(path, ['repeated']);
  }
  for (const column of definition.columns) {
    if (column.path !== undefined) checkXml(column.path, ['columns']);
    if (column.fromParent !== undefined || column.ordinal !== undefined) {
      report(
        ['columns'],
        `column "${column.name}": fromParent and ordinal are for children`,
      );
    }
  }

  const parentColumns = new Set(definition.columns.map((c) => c.name));
  const entities = new Set([definition.entity]);
  for (const [index, child] of (definition.children ?? []).entries()) {
    const where = ['children', index];
    if (entities.has(child.entity)) {
      report(where, `entity "${child.entity}" is declared twice`);
    }
    entities.add(child.entity);
    checkChild(child, parentColumns, (path, message) =>
      report([...where, ...path], message),
    );
    checkJson(child.path, [...where, 'path']);
    checkXml(child.path, [...where, 'path']);
    for (const path of child.repeated ?? []) {
      checkXml(path, [...where, 'repeated']);
    }
    for (const column of child.columns) {
      if (column.path !== undefined) {
        checkXml(column.path, [...where, 'columns']);
      }
    }
  }
}

function checkChild(
  child: ChildShape,
  parentColumns: ReadonlySet<string>,
  report: (path: PropertyKey[], message: string) => void,
): void {
  const names = new Set<string>();
  for (const column of child.columns) {
    if (names.has(column.name)) {
      report(['columns'], `column "${column.name}" is declared twice`);
    }
    names.add(column.name);
    if (
      column.type === 'numeric' &&
      column.scale !== undefined &&
      column.scale > (column.precision ?? 1000)
    ) {
      report(['columns'], `column "${column.name}": scale exceeds precision`);
    }
    const sources = [
      column.path !== undefined,
      column.fromParent !== undefined,
      column.ordinal !== undefined,
    ].filter(Boolean).length;
    if (sources > 1) {
      report(
        ['columns'],
        `column "${column.name}": path, fromParent and ordinal exclude each other`,
      );
    }
    if (
      column.fromParent !== undefined &&
      !parentColumns.has(column.fromParent)
    ) {
      report(
        ['columns'],
        `column "${column.name}": the parent has no column "${column.fromParent}"`,
      );
    }
    if (
      column.ordinal !== undefined &&
      !['integer', 'bigint', 'numeric', 'text'].includes(column.type)
    ) {
      report(
        ['columns'],
        `column "${column.name}": an ordinal needs a number or text column`,
      );
    }
  }
  for (const key of child.key) {
    if (!names.has(key)) {
      report(['key'], `key column "${key}" is not among the columns`);
    }
  }
  if (child.tenantColumn && names.has(child.tenantColumn)) {
    report(
      ['tenantColumn'],
      'the tenant column is filled by the engine, not declared',
    );
  }
}

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
  /** Child records: the parent column whose value this column takes. */
  fromParent?: string;
  /** Child records: the column holds the child's 1-based position. */
  ordinal?: boolean;
  /** A literal prefix removed from values that start with it. */
  stripPrefix?: string;
  /** Read in place of an empty, absent or null-token field. */
  default?: string;
  /** In an update, an empty field keeps the stored value. */
  emptyMeansKeep?: boolean;
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
  /**
   * Where the records are in JSON and XML documents. The next four
   * members are always present on a definition built by `defineImport`;
   * they are optional so that hand-built definitions stay valid.
   */
  records?: { jsonPath?: string; xmlPath?: string };
  /** XML prefix to namespace URI, for the prefixes paths use. */
  namespaces?: Record<string, string>;
  /** XML element paths, relative to the record, that are lists. */
  repeated?: string[];
  /** Child record types, each with its own table, key and columns. */
  children?: ChildImportDefinition[];
  /**
   * How rows are applied; `defineImport` fills `mode`. Every member is
   * optional so hand-built definitions (and children) upsert as before.
   */
  mode?: MergeMode;
  /** Modes an import may ask for; the definition's own mode always. */
  allowedModes?: MergeMode[];
  /** Columns filled from the import's parameters; see `scope` above. */
  scope?: ColumnDefinition[];
  softDelete?: { column: string; mark: 'timestamp' | 'false' };
  maxDeleteShare?: number;
  maxRejected?: number;
  maxRejectedShare?: number;
  versionColumn?: string;
  /** Before-images of changed rows are kept: imports can be reverted. */
  keepBeforeImages?: boolean;
}

/**
 * A child record type, normalized like any definition (its tenant column,
 * locale, null tokens and unknown-field rule default to the parent's), and
 * `path`: where its records are under each parent record. Its columns may
 * take `fromParent` values and an `ordinal`. It has no children itself.
 */
export interface ChildImportDefinition extends ImportDefinition {
  path: string;
  /** The entity of the parent record type. */
  parentEntity: string;
}

/**
 * Validates a definition and fills in its defaults. Throws an ImportError
 * with code INVALID_DEFINITION naming every problem found.
 */
export function defineImport(input: ImportDefinitionInput): ImportDefinition {
  const parsed = definitionSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map(
        (issue) =>
          `${issue.path.join('.') || '(root)'}: ${describeIssue(issue)}`,
      )
      .join('; ');
    throw new ImportError(
      ErrorCodes.INVALID_DEFINITION,
      `invalid import definition: ${problems}`,
      { cause: parsed.error, details: { entity: input.entity } },
    );
  }

  const value = parsed.data;
  const locale = toLocale(value.locale);
  const definition: ImportDefinition = {
    entity: value.entity,
    table: value.table,
    ...(value.schema !== undefined && { schema: value.schema }),
    key: value.key,
    columns: buildColumns(value.columns, value.key),
    ...(value.tenantColumn !== undefined && {
      tenantColumn: value.tenantColumn,
    }),
    nullTokens: value.nullTokens,
    locale,
    unknownFields: value.unknownFields,
    ...(value.description !== undefined && {
      description: value.description,
    }),
    records: { ...value.records },
    namespaces: { ...value.namespaces },
    repeated: value.repeated ?? [],
    children: [],
    ...loadSettingsOf(value),
  };

  definition.children = (value.children ?? []).map(
    (child): ChildImportDefinition => {
      const tenantColumn = child.tenantColumn ?? value.tenantColumn;
      return {
        entity: child.entity,
        table: child.table,
        ...(child.schema !== undefined && { schema: child.schema }),
        key: child.key,
        columns: buildColumns(child.columns, child.key),
        ...(tenantColumn !== undefined && { tenantColumn }),
        nullTokens: child.nullTokens ?? value.nullTokens,
        locale:
          child.locale === undefined
            ? structuredClone(locale)
            : toLocale(child.locale),
        unknownFields: child.unknownFields ?? value.unknownFields,
        ...(child.description !== undefined && {
          description: child.description,
        }),
        records: {},
        namespaces: { ...value.namespaces },
        repeated: child.repeated ?? [],
        children: [],
        path: child.path,
        parentEntity: value.entity,
      };
    },
  );

  return definition;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code !== 'unrecognized_keys') return issue.message;
  const keys = issue.keys.map((key) => `"${key}"`).join(', ');
  return `unknown member${issue.keys.length > 1 ? 's' : ''} ${keys}`;
}

function toLocale(input: LocaleName | Locale): Locale {
  return typeof input === 'string'
    ? (structuredClone(localePresets[input]) as Locale)
    : input;
}

function buildColumns(
  inputs: ReadonlyArray<z.output<typeof columnSchema>>,
  key: readonly string[],
): ColumnDefinition[] {
  const keys = new Set(key);
  return inputs.map((column): ColumnDefinition => {
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
      ...(column.fromParent !== undefined && {
        fromParent: column.fromParent,
      }),
      ...(column.ordinal !== undefined && { ordinal: true }),
      ...(column.stripPrefix !== undefined && {
        stripPrefix: column.stripPrefix,
      }),
      ...(column.default !== undefined && { default: column.default }),
      ...(column.emptyMeansKeep === true && { emptyMeansKeep: true }),
    };
  });
}

// The load members of a parsed definition, normalized.
function loadSettingsOf(value: DefinitionShape): Partial<ImportDefinition> {
  const allowed = new Set([value.mode, ...(value.allowedModes ?? [])]);
  return {
    mode: value.mode,
    allowedModes: mergeModes.filter((mode) => allowed.has(mode)),
    ...(value.scope !== undefined && {
      scope: value.scope.map((entry): ColumnDefinition => {
        const column = typeof entry === 'string' ? { name: entry } : entry;
        return {
          type: 'text',
          ...column,
          nullable: false,
          sources: [column.name],
          isKey: false,
        };
      }),
    }),
    ...(value.softDelete !== undefined && { softDelete: value.softDelete }),
    ...(value.maxDeleteShare !== undefined && {
      maxDeleteShare: value.maxDeleteShare,
    }),
    ...(value.maxRejected !== undefined && { maxRejected: value.maxRejected }),
    ...(value.maxRejectedShare !== undefined && {
      maxRejectedShare: value.maxRejectedShare,
    }),
    ...(value.versionColumn !== undefined && {
      versionColumn: value.versionColumn,
    }),
    ...(value.keepBeforeImages !== undefined && {
      keepBeforeImages: value.keepBeforeImages,
    }),
  };
}

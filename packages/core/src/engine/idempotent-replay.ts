import type { ImportDefinition } from '../definitions/import-definition.js';
import { ErrorCodes, ImportError } from '../errors/import-error.js';
import type { ImportOptions, ImportRecord } from '../ports/import-record.js';
import { normalizeEncodingName } from '../readers/decode.js';
import type { EnqueueRequest } from './importer-types.js';

/**
 * An idempotency key names one request: its entity, format, read and
 * load options, and the bytes as stored (compared by checksum apart). A
 * retry repeats all of them, so it is answered with the first import;
 * a request that differs in any of them under a known key is a client's
 * mistake (a corrected export, another delimiter) and gets
 * IDEMPOTENCY_CONFLICT rather than the first import with its new options
 * silently dropped.
 *
 * Options are compared by what they mean, not how they were spelled:
 * `utf8` is `UTF-8`, a mode left out is the definition's own, no
 * compression is `none`, an export time is an instant.
 */
export function checkReplay(
  record: ImportRecord,
  request: EnqueueRequest,
  definition: ImportDefinition,
): void {
  if (record.entity !== request.entity || record.format !== request.format) {
    throw conflict(
      record,
      request,
      `an import of ${record.entity} (${record.format}), not of ` +
        `${request.entity} (${request.format})`,
    );
  }

  const requested = { ...request.options, ...request.load };
  const before = meaningOf(record.options, definition);
  const now = meaningOf(requested, definition);
  const differing = Object.keys(before).filter(
    (name) => before[name] !== now[name],
  );
  if (differing.length > 0) {
    const changes = differing
      .map((name) => `${name} ${before[name]} (now ${now[name]})`)
      .join(', ');
    throw conflict(
      record,
      request,
      `import ${record.id}, sent with other options: ${changes}`,
      { options: differing },
    );
  }
}

/** Each option as one comparable text. */
function meaningOf(
  options: ImportOptions,
  definition: ImportDefinition,
): Record<string, string> {
  const text = (value: unknown) =>
    value === undefined ? 'not given' : JSON.stringify(value);
  const params = Object.entries(options.params ?? {}).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  return {
    encoding: text(encodingOf(options.encoding)),
    delimiter: text(options.delimiter),
    compression: text(options.compression ?? 'none'),
    mode: text(options.mode ?? definition.mode ?? 'upsert'),
    params: text(Object.fromEntries(params)),
    exportedAt: text(instantOf(options.exportedAt)),
    allowMassDelete: text(options.allowMassDelete ?? false),
    maxRejected: text(options.maxRejected),
    maxRejectedShare: text(options.maxRejectedShare),
  };
}

function encodingOf(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  try {
    return normalizeEncodingName(name);
  } catch {
    return name;
  }
}

function instantOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? value : new Date(time).toISOString();
}

function conflict(
  record: ImportRecord,
  request: EnqueueRequest,
  what: string,
  details: Record<string, unknown> = {},
): ImportError {
  return new ImportError(
    ErrorCodes.IDEMPOTENCY_CONFLICT,
    `idempotency key "${request.idempotencyKey}" already names ${what}; send a new key for a new request`,
    { details: { importId: record.id, ...details } },
  );
}

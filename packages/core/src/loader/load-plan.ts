import { createConverter, isFailure } from '../coercion/column-converters.js';
import type { ImportDefinition } from '../definitions/import-definition.js';
import { ErrorCodes, ImportError } from '../errors/import-error.js';
import type { ImportLoadOptions, MergeMode } from '../ports/import-record.js';

/**
 * What one import asks of the loader, checked against its definition: the
 * mode it may use, its scope values read with the scope columns' types,
 * its export timestamp. The engine checks a request at enqueue with the
 * same function, so a bad one is refused before its file is stored.
 */
export interface LoadPlan {
  mode: MergeMode;
  /** In the definition's scope order, in PostgreSQL text form. */
  scopeValues: string[];
  allowMassDelete: boolean;
  /** ISO 8601, normalized. */
  exportedAt?: string;
}

export function resolveLoadPlan(
  definition: ImportDefinition,
  request: ImportLoadOptions = {},
): LoadPlan {
  const own = definition.mode ?? 'upsert';
  const mode = request.mode ?? own;
  const allowed = definition.allowedModes ?? [own];
  if (mode !== own && !allowed.includes(mode)) {
    throw invalid(
      `entity "${definition.entity}" does not allow mode "${mode}" ` +
        `(it allows ${allowed.join(', ')})`,
      { mode, allowedModes: allowed },
    );
  }

  refuseNestedSync(definition, mode);

  const params = request.params ?? {};
  const scope = definition.scope ?? [];
  const declared = new Set(scope.map((column) => column.name));
  const unknown = Object.keys(params).filter((name) => !declared.has(name));
  if (unknown.length > 0) {
    throw invalid(
      `entity "${definition.entity}" has no scope parameter ` +
        unknown.map((name) => `"${name}"`).join(', '),
      { unknown, scope: [...declared] },
    );
  }
  const scopeValues = scope.map((column) => {
    const value = params[column.name];
    if (value === undefined || value === '') {
      throw invalid(
        `entity "${definition.entity}" needs the parameter "${column.name}"`,
        { parameter: column.name },
      );
    }
    const converted = createConverter(column, definition.locale)(value);
    if (converted === null || isFailure(converted)) {
      throw invalid(
        `parameter "${column.name}": ` +
          (converted === null ? 'a value is required' : converted.message),
        { parameter: column.name },
      );
    }
    return converted;
  });

  let exportedAt: string | undefined;
  if (request.exportedAt !== undefined) {
    const time = Date.parse(request.exportedAt);
    if (Number.isNaN(time)) {
      throw invalid(
        `exportedAt "${request.exportedAt}" is not an ISO 8601 timestamp`,
        { exportedAt: request.exportedAt },
      );
    }
    exportedAt = new Date(time).toISOString();
  }

  return {
    mode,
    scopeValues,
    allowMassDelete: request.allowMassDelete === true,
    ...(exportedAt !== undefined && { exportedAt }),
  };
}

/**
 * A sync of records with children would have to delete the children its
 * file no longer holds too (of the parents it keeps, and before the
 * parents it deletes, for their foreign keys). Until it does, it is
 * refused rather than left to fail on a foreign key, or to keep stale
 * children silently.
 *
 * TODO: sync children: delete, per parent in the tenant's scope, the
 * child rows the file does not hold, children first, with before-images.
 */
export function refuseNestedSync(
  definition: ImportDefinition,
  mode: MergeMode,
): void {
  if (mode !== 'sync' || (definition.children ?? []).length === 0) return;
  throw new ImportError(
    ErrorCodes.INVALID_REQUEST,
    `entity "${definition.entity}" has child records, which a sync does ` +
      'not support yet; send the file as an upsert',
    { details: { entity: definition.entity, mode } },
  );
}

function invalid(
  message: string,
  details: Record<string, unknown>,
): ImportError {
  return new ImportError(ErrorCodes.INVALID_REQUEST, message, { details });
}

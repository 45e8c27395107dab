import type { ImportDefinition } from '../definitions/import-definition.js';
import { ErrorCodes, ImportError } from '../errors/import-error.js';
import type {
  ImportCounts,
  ImportLoadOptions,
} from '../ports/import-record.js';

/**
 * The reject thresholds of an import: its own when the request set them,
 * else its definition's. A count and a share may both be set; passing
 * either fails the import. `maxRejected: 0` makes it all or nothing.
 */
export interface RejectThresholds {
  maxRejected?: number;
  maxRejectedShare?: number;
}

export function rejectThresholdsOf(
  definition: ImportDefinition,
  request: ImportLoadOptions,
): RejectThresholds {
  const maxRejected = request.maxRejected ?? definition.maxRejected;
  const maxRejectedShare =
    request.maxRejectedShare ?? definition.maxRejectedShare;
  return {
    ...(maxRejected !== undefined && { maxRejected }),
    ...(maxRejectedShare !== undefined && { maxRejectedShare }),
  };
}

/**
 * TODO: a count threshold could stop reading as soon as it is passed;
 * the check runs once the whole file is merged, so a hopeless file is
 * still read to its end.
 *
 * Throws TOO_MANY_REJECTS when the records rejected (on reading and by
 * the database) pass a threshold. Called inside the import's
 * transaction, after the MERGE, so a failure applies nothing.
 */
export function checkRejectThresholds(
  counts: ImportCounts,
  thresholds: RejectThresholds,
): void {
  const { rejected, read } = counts;
  const { maxRejected, maxRejectedShare } = thresholds;
  const overCount = maxRejected !== undefined && rejected > maxRejected;
  const overShare =
    maxRejectedShare !== undefined && rejected > maxRejectedShare * read;
  if (!overCount && !overShare) return;

  const limit = overCount
    ? `at most ${maxRejected}`
    : `at most ${(maxRejectedShare ?? 0) * 100}% of ${read}`;
  throw new ImportError(
    ErrorCodes.TOO_MANY_REJECTS,
    `${rejected} of ${read} records were rejected, and the import allows ` +
      `${limit}; nothing was applied (the error log lists them)`,
    { details: { rejected, read, ...thresholds } },
  );
}

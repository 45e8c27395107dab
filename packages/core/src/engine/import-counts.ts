import type { ImportDefinition } from '../definitions/import-definition.js';
import { ErrorCodes, ImportError } from '../errors/import-error.js';
import type { ApplyResult, EntityCounts } from '../loader/apply-import.js';
import type {
  EntityImportCounts,
  ImportCounts,
} from '../ports/import-record.js';

/**
 * Records read and rejected while reading, overall and per entity. A
 * file with child records (an invoice and its lines) feeds several
 * entities; each record counts once, in its own entity.
 */
export class RecordTally {
  read = 0;
  rejected = 0;
  readonly entities = new Map<string, { read: number; rejected: number }>();

  count(entity: string, rejected: boolean): void {
    let entry = this.entities.get(entity);
    if (entry === undefined) {
      entry = { read: 0, rejected: 0 };
      this.entities.set(entity, entry);
    }
    entry.read += 1;
    this.read += 1;
    if (rejected) {
      entry.rejected += 1;
      this.rejected += 1;
    }
  }
}

/**
 * The import's counts, checked: every record read is inserted, updated,
 * unchanged, superseded, skipped or rejected, in each entity and over
 * the whole file. Rows the loader staged but did not merge (refused by
 * the database) are rejected too, on top of those rejected on reading.
 * A mismatch means a record was lost on the way, which fails the import
 * (and rolls it back).
 *
 * The top-level counts are the whole file: the sums over its entities.
 * `entities` is there when the definition has children.
 */
export function importCountsOf(
  result: ApplyResult,
  tally: RecordTally,
  definitions: readonly ImportDefinition[],
): ImportCounts {
  const entities: Record<string, EntityImportCounts> = {};
  for (const definition of definitions) {
    const { entity } = definition;
    const counts = entityCounts(result.counts[entity], tally, entity);
    checkAccounted(counts, entity);
    entities[entity] = counts;
  }

  const all = Object.values(entities);
  const sum = (pick: (counts: EntityImportCounts) => number) =>
    all.reduce((total, counts) => total + pick(counts), 0);
  const counts: ImportCounts = {
    read: tally.read,
    inserted: sum((c) => c.inserted),
    updated: sum((c) => c.updated),
    unchanged: sum((c) => c.unchanged),
    deleted: sum((c) => c.deleted),
    rejected: sum((c) => c.rejected),
    superseded: sum((c) => c.superseded),
    skipped: sum((c) => c.skipped),
    ...(definitions.length > 1 && { entities }),
  };
  // A record of an entity the import does not write would be read here
  // and accounted nowhere.
  checkAccounted(counts, undefined);
  return counts;
}

function entityCounts(
  loaded: EntityCounts | undefined,
  tally: RecordTally,
  entity: string,
): EntityImportCounts {
  const read = tally.entities.get(entity) ?? { read: 0, rejected: 0 };
  const skipped = loaded?.skipped ?? 0;
  const staged = loaded?.staged ?? 0;
  const merged =
    (loaded?.inserted ?? 0) +
    (loaded?.updated ?? 0) +
    (loaded?.unchanged ?? 0) +
    (loaded?.superseded ?? 0) +
    skipped;
  return {
    read: read.read,
    inserted: loaded?.inserted ?? 0,
    updated: loaded?.updated ?? 0,
    unchanged: loaded?.unchanged ?? 0,
    deleted: loaded?.deleted ?? 0,
    rejected: read.rejected + Math.max(0, staged - merged),
    superseded: loaded?.superseded ?? 0,
    skipped,
  };
}

function checkAccounted(
  counts: EntityImportCounts,
  entity: string | undefined,
): void {
  const accounted =
    counts.inserted +
    counts.updated +
    counts.unchanged +
    counts.superseded +
    counts.skipped +
    counts.rejected;
  if (accounted === counts.read) return;
  const where = entity === undefined ? '' : ` of entity "${entity}"`;
  throw new ImportError(
    ErrorCodes.INTERNAL,
    `counts do not add up: ${counts.read} records${where} read, ` +
      `${accounted} accounted for`,
    { details: { counts, ...(entity !== undefined && { entity }) } },
  );
}

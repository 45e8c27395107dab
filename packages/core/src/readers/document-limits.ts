/**
 * How much of a JSON or XML document one record (or one piece of text
 * outside the records) may hold, and how deep its elements or values may
 * nest. A reader assembles a record whole before mapping it, so without
 * a ceiling one record, a single 40 MB string, or a few hundred thousand
 * tiny elements, would take all of a parse thread's capped heap (see
 * `parseThreadLimits` in engine/row-source.ts), and V8 may then abort
 * the whole process rather than the thread alone.
 *
 * A record takes several times its text in heap: as a tree, then as
 * values, a jsonb column's text (parsed again to be checked) and COPY
 * lines. Measured in a parse thread on the sources (tsx loaded, the
 * heaviest case), the worst shapes at these limits complete with room
 * for half as much again on both, or twice either: two-byte text,
 * elements of one character, a jsonb column taking the whole record,
 * backslashes that COPY doubles. At twice both they do not; a test
 * reads such records in a parse thread to hold the limits to it. They
 * are a quarter of the CSV reader's 16 MiB for that reason; an NF-e at
 * its legal maximum of 990 items is about 1.7 MB and 80 000 pieces.
 *
 * Depth is limited for another reason: saxes looks up each element's
 * namespace through every open element, so a document nested 50 000
 * deep costs billions of steps and blocks the event loop for minutes.
 * No ERP document nests near 256 levels (an NF-e is about 10 deep), and
 * at 256 the lookups stay a few milliseconds in all.
 */

export interface DocumentLimits {
  /**
   * Characters of one record's text, markup and whitespace included;
   * also the most any one value, text, attribute, comment or DOCTYPE
   * outside the records may hold. Measured to within the 64 KiB slices
   * the text is fed in.
   */
  maxRecordChars: number;
  /**
   * Pieces one record is assembled from: JSON values (objects, arrays,
   * scalars); XML elements, attributes and runs of text.
   */
  maxRecordNodes: number;
  /** Levels of nesting, the containers above the records included. */
  maxDepth: number;
}

export const defaultDocumentLimits: DocumentLimits = {
  maxRecordChars: 4 * 1024 * 1024,
  maxRecordNodes: 100_000,
  maxDepth: 256,
};

/** The limits a reader applies: the defaults, each one overridable. */
export function documentLimitsOf(
  overrides: Partial<DocumentLimits> | undefined,
): DocumentLimits {
  return { ...defaultDocumentLimits, ...overrides };
}

/** `4 MiB`, `512 KiB`, or `1000 characters`, for messages. */
export function describeChars(count: number): string {
  return roundSize(count) ?? `${count} characters`;
}

/** `16 MiB (16777216 bytes)`, or `1000 bytes`, for messages. */
export function describeBytes(count: number): string {
  const round = roundSize(count);
  return round === undefined ? `${count} bytes` : `${round} (${count} bytes)`;
}

function roundSize(count: number): string | undefined {
  const mib = 1024 * 1024;
  if (count % mib === 0) return `${count / mib} MiB`;
  if (count % 1024 === 0) return `${count / 1024} KiB`;
  return undefined;
}

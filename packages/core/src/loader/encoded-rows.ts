import type { CoercedRow } from '../coercion/coerced-row.js';
import type { CopyTarget } from './copy-stream.js';

/**
 * Rows already written as COPY text by `encodeRow`, many at a time: what
 * a parse thread hands the loader so the main thread only forwards text.
 * `firstSeq` is the `__seq` of the first line; the loader checks that it
 * follows the rows it staged before, so two sources can never collide.
 */
export interface EncodedRows {
  kind: 'encoded';
  /** The entity the lines belong to; undefined means the first target. */
  entity?: string;
  /**
   * The lines, as text or as their UTF-8 bytes (a thread sends bytes: an
   * ArrayBuffer moves to the loader's thread without a copy, and the
   * loader writes it to COPY as it is).
   */
  text: string | Uint8Array;
  count: number;
  firstSeq: number;
  /**
   * False when the producer's `RepeatedKeyFilter` saw no key twice among
   * these lines and those it encoded before; absent means it may have.
   */
  keysMayRepeat?: boolean;
  /** How many of the lines are key-only rows (`CoercedRow.keyOnly`). */
  keyOnlyCount?: number;
  /**
   * Hands the memory of `text` back to its producer, which writes later
   * lines into it: the loader calls it once nothing of its own holds the
   * text any more (buffer-returns.ts). Set by the receiving thread.
   */
  release?: () => void;
}

/**
 * What the loader stages: rows, or lines encoded elsewhere with the very
 * targets and tenant the loader uses (handed to a `RowSource`).
 */
export type StagedItem = CoercedRow | EncodedRows;

export interface CopyLayout {
  targets: readonly CopyTarget[];
  tenant: string;
}

/**
 * Rows produced once the loader knows how it will stage them. Called at
 * most once, when copying starts; never when the import was applied
 * already.
 */
export type RowSource = (layout: CopyLayout) => AsyncIterable<StagedItem>;

export function isEncodedRows(item: StagedItem): item is EncodedRows {
  return (item as Partial<EncodedRows>).kind === 'encoded';
}

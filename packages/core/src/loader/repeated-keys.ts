import type {
  ColumnDefinition,
  ImportDefinition,
} from '../definitions/import-definition.js';

/**
 * Watches the keys of the rows staged for one entity and tells whether a
 * key may have come twice, so that the loader can skip the dedupe step
 * (a window over the whole staging table, sorted by key) for the files
 * that repeat no key, which are most of them.
 *
 * It is a Bloom filter of fixed size: memory does not grow with the
 * file, and it never misses a repeated key. It may take a new key for a
 * repeated one (in about one file of thirty with a million distinct
 * keys, far more often beyond a few million), and the loader then
 * dedupes as it would without it.
 *
 * Equal keys must be equal strings for that, which the coercion gives
 * for the types listed here (canonical text: `007` reads as `7`, a
 * numeric with a scale is padded to it, a uuid is lower case). A key of
 * another type (a timestamp with an offset, a numeric without a scale)
 * gets no filter: its entity is always deduped.
 */
export interface RepeatedKeyFilter {
  /** Looks at one staged row's values, in the definition's order. */
  add(values: ReadonlyArray<string | null>): void;
  /** Whether any key seen so far may have been seen before. */
  readonly mayRepeat: boolean;
}

/** 2^26 bits: 8 MiB, allocated only as the pages are touched. */
const filterBits = 1 << 26;
/**
 * Blocked: every probe of a key falls in one block of 512 bits, a cache
 * line (64 bytes), so a key costs one miss in memory instead of one per
 * probe (the plain filter's seven misses were a tenth of the parse
 * thread's time).
 * Eight probes keep false alarms at about three in a hundred files of a
 * million distinct keys.
 */
const blockBits = 512;
const blockWords = blockBits >>> 5;
const blockCount = filterBits / blockBits;
const probes = 8;

export function createRepeatedKeyFilter(
  definition: ImportDefinition,
): RepeatedKeyFilter | undefined {
  const keyColumns = definition.key.map((name) =>
    definition.columns.findIndex((column) => column.name === name),
  );
  const comparable = keyColumns.every((index) => {
    const column = definition.columns[index];
    return column !== undefined && hasCanonicalText(column);
  });
  if (!comparable || keyColumns.length === 0) return undefined;

  let bits: Int32Array | undefined;
  let mayRepeat = false;
  return {
    add(values) {
      // Once a repeat is possible the loader dedupes anyway.
      if (mayRepeat) return;
      bits ??= new Int32Array(filterBits >>> 5);
      const [first, second] = hashKey(values, keyColumns);
      const block = (first & (blockCount - 1)) * blockWords;
      // The probes in the block come from xorshift32 seeded with the
      // second hash: positions from one progression (start, step) would
      // repeat whole sets and cry repeat at a hundred thousand keys.
      let state = second | 1;
      let seen = true;
      for (let i = 0; i < probes; i++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        const bit = state & (blockBits - 1);
        const word = block + (bit >>> 5);
        const mask = 1 << (bit & 31);
        if ((bits[word]! & mask) === 0) {
          seen = false;
          bits[word] = bits[word]! | mask;
        }
      }
      if (seen) {
        mayRepeat = true;
        bits = undefined;
      }
    },
    get mayRepeat() {
      return mayRepeat;
    },
  };
}

function hasCanonicalText(column: ColumnDefinition): boolean {
  switch (column.type) {
    case 'text':
    case 'integer':
    case 'bigint':
    case 'boolean':
    case 'date':
    case 'uuid':
      return true;
    case 'numeric':
      return column.precision !== undefined;
    case 'timestamp':
    case 'timestamptz':
    case 'jsonb':
      return false;
  }
}

/**
 * Two 32-bit hashes of the key's values, one to pick the block and one
 * for the probes in it: FNV-1a and a multiply-rotate hash of the same
 * characters, each finished with MurmurHash3's mixer so that the bits
 * the filter uses are well spread. Values are separated by a code no
 * canonical value holds, and NULL by another, so `a|bc` and `ab|c`
 * differ.
 */
function hashKey(
  values: ReadonlyArray<string | null>,
  keyColumns: readonly number[],
): [number, number] {
  hashes.first = 0x811c9dc5;
  hashes.second = 0x9747b28c;
  for (const index of keyColumns) {
    const value = values[index];
    if (value === null || value === undefined) {
      step(0x1fffe);
    } else {
      for (let i = 0; i < value.length; i++) step(value.charCodeAt(i));
    }
    step(0x1ffff);
  }
  return [mix(hashes.first), mix(hashes.second)];
}

// The hashes being computed: one object for the module rather than a
// closure per key, since this runs for every character of every key.
const hashes = { first: 0, second: 0 };

function step(code: number): void {
  hashes.first = Math.imul(hashes.first ^ code, 0x01000193);
  const second = Math.imul(hashes.second ^ code, 0x5bd1e995);
  hashes.second = (second << 13) | (second >>> 19);
}

function mix(hash: number): number {
  let h = hash;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

import { daysFromCivil } from './date-format.js';

/**
 * Offsets of an IANA time zone, from the zone database Intl carries. The
 * process's own TZ is never consulted.
 */
export interface TimeZone {
  name: string;
  /** The zone's offset from UTC, in seconds, at an instant. */
  offsetAt(epochSeconds: number): number;
  /**
   * The offset that makes a wall-clock time (given as seconds, read as if
   * UTC) a real instant in the zone. In a DST gap the wall time does not
   * exist: like PostgreSQL, it is read with the offset in force before the
   * gap. In an overlap it is ambiguous: like PostgreSQL again, it is read
   * with the offset in force after the change (the later instant).
   */
  offsetForWallTime(wallSeconds: number): number;
}

/** Throws a RangeError when `name` is no zone Intl knows. */
export function createTimeZone(name: string): TimeZone {
  const formatter = new Intl.DateTimeFormat('en-US', {
    timeZone: name,
    hourCycle: 'h23',
    era: 'short',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });

  function computeOffset(epochSeconds: number): number {
    let year = 0;
    let month = 0;
    let day = 0;
    let hour = 0;
    let minute = 0;
    let second = 0;
    let bc = false;
    for (const part of formatter.formatToParts(epochSeconds * 1000)) {
      switch (part.type) {
        case 'year':
          year = Number(part.value);
          break;
        case 'month':
          month = Number(part.value);
          break;
        case 'day':
          day = Number(part.value);
          break;
        case 'hour':
          hour = Number(part.value);
          break;
        case 'minute':
          minute = Number(part.value);
          break;
        case 'second':
          second = Number(part.value);
          break;
        case 'era':
          bc = part.value.startsWith('B');
          break;
        default:
          break;
      }
    }
    if (bc) year = 1 - year;
    const wall =
      daysFromCivil(year, month, day) * 86400 +
      hour * 3600 +
      minute * 60 +
      second;
    return wall - epochSeconds;
  }

  // Offsets change at most a few times a year, and on quarter hours: cache
  // per 15-minute block, and only blocks whose two ends agree.
  const BLOCK = 900;
  const cache = new Map<number, number>();
  function offsetAt(epochSeconds: number): number {
    const block = Math.floor(epochSeconds / BLOCK);
    const cached = cache.get(block);
    if (cached !== undefined) return cached;
    const start = computeOffset(block * BLOCK);
    const end = computeOffset(block * BLOCK + BLOCK - 1);
    if (start !== end) return computeOffset(epochSeconds);
    if (cache.size > 10_000) cache.clear();
    cache.set(block, start);
    return start;
  }

  function offsetForWallTime(wall: number): number {
    const candidates = new Set([
      offsetAt(wall - 86400),
      offsetAt(wall),
      offsetAt(wall + 86400),
    ]);
    let best: { instant: number; offset: number } | undefined;
    for (const offset of candidates) {
      const instant = wall - offset;
      if (offsetAt(instant) !== offset) continue;
      if (best === undefined || instant > best.instant) {
        best = { instant, offset };
      }
    }
    if (best) return best.offset;
    // A gap: no offset gives this wall time; use the one before the change.
    return offsetAt(wall - 86400);
  }

  return { name, offsetAt, offsetForWallTime };
}

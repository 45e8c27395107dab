/**
 * When to try a request again and how long to wait first. Network
 * failures, 408, 429 and the 5xx that say "not now" (500, 502, 503, 504)
 * are worth another attempt; every other 4xx is the caller's mistake and
 * would fail the same way again.
 */
export interface RetryOptions {
  /** Attempts after the first; 0 turns retrying off. */
  retries: number;
  /** The first wait, and the least any wait lasts. */
  minDelayMs: number;
  /**
   * The longest wait. A server asking for more with `Retry-After` ends
   * the retries: its answer is thrown rather than waited out.
   */
  maxDelayMs: number;
}

export const defaultRetryOptions: Readonly<RetryOptions> = {
  retries: 4,
  minDelayMs: 250,
  maxDelayMs: 10_000,
};

const retryableStatuses = new Set([408, 429, 500, 502, 503, 504]);

// 429 and 503 promise the request was not acted on, so even a request
// that must not run twice may be sent again after them.
const notActedOnStatuses = new Set([429, 503]);

export function isRetryableStatus(status: number, idempotent: boolean) {
  return idempotent
    ? retryableStatuses.has(status)
    : notActedOnStatuses.has(status);
}

/**
 * Exponential backoff with jitter: retry `n` (from 1) waits a random time
 * between `minDelayMs` and `minDelayMs * 2^n`, capped at `maxDelayMs`, so
 * clients that failed together do not come back together.
 */
export function backoffDelay(
  retry: number,
  options: RetryOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    options.maxDelayMs,
    options.minDelayMs * 2 ** Math.max(1, retry),
  );
  const floor = Math.min(options.minDelayMs, ceiling);
  return Math.round(floor + random() * (ceiling - floor));
}

/**
 * `Retry-After` as milliseconds from `now`: either delay-seconds or an
 * HTTP date. Undefined when absent or unreadable; never negative.
 */
export function parseRetryAfter(
  value: string | null,
  now: number = Date.now(),
): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;

  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

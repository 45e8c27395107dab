import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, it } from 'vitest';
import { redisUrlOrNull } from '@erp-import/dev-services/vitest';

/**
 * Runs `body` as a describe block when a Redis answers, and otherwise
 * reports it SKIPPED under a name that says why, so a run without Redis
 * never looks like a pass.
 */
export function describeWithRedis(
  name: string,
  body: (redisUrl: () => string) => void,
): void {
  const url = redisUrlOrNull();
  if (url === null) {
    describe.skip(`SKIPPED: no Redis (set REDIS_URL): ${name}`, () => {
      it.skip('SKIPPED: no Redis (set REDIS_URL)', () => undefined);
      body(() => {
        throw new Error('no Redis');
      });
    });
    return;
  }
  describe(name, () => body(() => url));
}

/** A key prefix no other test file or run uses. */
export function uniquePrefix(label: string): string {
  return `erp-test:${label}:${randomUUID().slice(0, 8)}`;
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(
        cursor,
        'MATCH',
        `${prefix}:*`,
        'COUNT',
        1000,
      );
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

/** The keys under `prefix`, for tests that check what is left behind. */
export async function keysUnder(
  url: string,
  prefix: string,
): Promise<string[]> {
  const redis = new Redis(url);
  try {
    return await redis.keys(`${prefix}:*`);
  } finally {
    await redis.quit();
  }
}

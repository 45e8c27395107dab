import { afterAll, beforeAll, inject } from 'vitest';
import { createTestDatabase, type TestDatabase } from './test-database.js';

/**
 * Gives the calling test file a fresh database for its lifetime. Call it
 * at the top of a file; read `.url` inside tests, not at import time.
 */
export function useTestDatabase(label?: string): { readonly url: string } {
  let database: TestDatabase | undefined;

  beforeAll(async () => {
    database = await createTestDatabase(inject('databaseUrl'), label);
  });
  afterAll(async () => {
    await database?.drop();
  });

  return {
    get url() {
      if (!database) throw new Error('the test database is not ready yet');
      return database.url;
    },
  };
}

/** The Redis URL, or null when the Redis suites must skip. */
export function redisUrlOrNull(): string | null {
  const url = inject('redisUrl');
  return url === '' ? null : url;
}

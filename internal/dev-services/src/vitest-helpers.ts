import { afterAll, beforeAll, inject } from 'vitest';
import { serverMajorVersion } from './database-services.js';
import {
  startEmbeddedPostgres,
  type EmbeddedPostgresHandle,
} from './embedded-postgres.js';
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

/**
 * Like `useTestDatabase`, on a PostgreSQL with the MERGE features of 17
 * and later (`RETURNING merge_action()`): the tests' own server when it
 * has them, otherwise an embedded PostgreSQL 18 started for this file.
 * The loader takes either path by the server's capabilities, and the
 * machine's server may be 15: both paths must be tested, not skipped.
 */
export function useModernTestDatabase(label?: string): {
  readonly url: string;
  readonly major: number;
} {
  let server: EmbeddedPostgresHandle | undefined;
  let database: TestDatabase | undefined;
  let major = 0;

  beforeAll(async () => {
    let adminUrl = inject('databaseUrl');
    major = await serverMajorVersion(adminUrl);
    if (major < 17) {
      server = await startEmbeddedPostgres();
      adminUrl = server.url;
      major = await serverMajorVersion(adminUrl);
    }
    database = await createTestDatabase(adminUrl, label);
  });
  afterAll(async () => {
    await database?.drop();
    await server?.stop();
  });

  return {
    get url() {
      if (!database) throw new Error('the test database is not ready yet');
      return database.url;
    },
    get major() {
      return major;
    },
  };
}

/** The Redis URL, or null when the Redis suites must skip. */
export function redisUrlOrNull(): string | null {
  const url = inject('redisUrl');
  return url === '' ? null : url;
}

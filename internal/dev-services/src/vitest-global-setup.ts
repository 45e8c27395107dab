import type { TestProject } from 'vitest/node';
import {
  resolvePostgres,
  resolveRedis,
  type ServiceHandle,
} from './database-services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** An admin URL of the PostgreSQL the tests use. */
    databaseUrl: string;
    /** The Redis URL, or '' when no Redis answers. */
    redisUrl: string;
  }
}

/**
 * Vitest global setup: finds or starts the servers once for the whole run
 * and hands their URLs to every test file through `inject`.
 */
export default async function setup(project: TestProject) {
  const handles: ServiceHandle[] = [];

  const postgres = await resolvePostgres();
  handles.push(postgres);
  project.provide('databaseUrl', postgres.url);

  const redis = await resolveRedis();
  if (redis) handles.push(redis);
  project.provide('redisUrl', redis?.url ?? '');
  if (!redis) {
    process.stderr.write(
      '\n*** No REDIS_URL and no Docker engine: the Redis suites are SKIPPED. ***\n\n',
    );
  }

  return async () => {
    for (const handle of handles.reverse()) await handle.stop();
  };
}

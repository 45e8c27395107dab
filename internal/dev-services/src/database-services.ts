import pg from 'pg';
import { startEmbeddedPostgres } from './embedded-postgres.js';

/**
 * Finds the servers tests talk to, in the order DESIGN.md gives:
 * DATABASE_URL / REDIS_URL when set; containers when a Docker engine
 * answers; otherwise an embedded PostgreSQL, and no Redis at all.
 */
export interface ServiceHandle {
  url: string;
  source: 'environment' | 'testcontainers' | 'embedded';
  stop(): Promise<void>;
}

const noop = async (): Promise<void> => undefined;

export async function resolvePostgres(): Promise<ServiceHandle> {
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv) return { url: fromEnv, source: 'environment', stop: noop };

  if (await dockerAnswers()) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:17').start();
    return {
      url: container.getConnectionUri(),
      source: 'testcontainers',
      stop: async () => {
        await container.stop();
      },
    };
  }

  const embedded = await startEmbeddedPostgres();
  return { url: embedded.url, source: 'embedded', stop: embedded.stop };
}

export async function resolveRedis(): Promise<ServiceHandle | null> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) return { url: fromEnv, source: 'environment', stop: noop };

  if (await dockerAnswers()) {
    const { GenericContainer } = await import('testcontainers');
    const container = await new GenericContainer('redis:7')
      .withExposedPorts(6379)
      .start();
    const url = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
    return {
      url,
      source: 'testcontainers',
      stop: async () => {
        await container.stop();
      },
    };
  }
  return null;
}

let dockerCheck: Promise<boolean> | undefined;

/** Whether a container runtime answers, asked once and bounded in time. */
export function dockerAnswers(): Promise<boolean> {
  dockerCheck ??= (async () => {
    try {
      const { getContainerRuntimeClient } = await import('testcontainers');
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('timeout')), 5000).unref(),
      );
      await Promise.race([getContainerRuntimeClient(), timeout]);
      return true;
    } catch {
      return false;
    }
  })();
  return dockerCheck;
}

/** The server's major version, for tests that differ between 15 and 18. */
export async function serverMajorVersion(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ server_version_num: string }>(
      'SHOW server_version_num',
    );
    return Math.floor(Number(result.rows[0]?.server_version_num) / 10000);
  } finally {
    await client.end();
  }
}

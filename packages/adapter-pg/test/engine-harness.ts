import {
  openEngineHarness as openHarness,
  type EngineHarness as Harness,
  type HarnessDatabaseOptions,
} from '@erp-import/dev-services/engine-harness';
import { createPgAdapters, type PgAdapters } from '../src/index.js';

export interface EngineHarnessOptions extends HarnessDatabaseOptions {
  redeliveryAfterSeconds: number;
  maxAttempts?: number;
}

/**
 * The enqueue side of the engine in the test process (no worker here),
 * on the PostgreSQL adapters, with worker child processes on the same.
 */
export type EngineHarness = Harness<PgAdapters>;

export function openEngineHarness(
  options: EngineHarnessOptions,
): Promise<EngineHarness> {
  const { redeliveryAfterSeconds, maxAttempts } = options;
  const { lostJobAfterMs } = options;
  return openHarness({
    databaseUrl: options.databaseUrl,
    setupSql: options.setupSql,
    ...(lostJobAfterMs !== undefined && { lostJobAfterMs }),
    openAdapters: (pool) =>
      createPgAdapters({
        pool,
        queue: {
          redeliveryAfterSeconds,
          pollIntervalSeconds: 0.5,
          ...(maxAttempts !== undefined && { maxAttempts }),
        },
      }),
    workerScript: new URL(
      './fixtures/import-worker-process.ts',
      import.meta.url,
    ),
    workerEnv: {
      DATABASE_URL: options.databaseUrl,
      REDELIVERY_AFTER_SECONDS: String(redeliveryAfterSeconds),
      ...(lostJobAfterMs !== undefined && {
        LOST_JOB_AFTER_MS: String(lostJobAfterMs),
      }),
    },
  });
}

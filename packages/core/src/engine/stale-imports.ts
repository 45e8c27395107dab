import { ErrorCodes } from '../errors/import-error.js';
import { findAppliedImport } from '../loader/ledger.js';
import type { ImportRecord, ImportState } from '../ports/import-record.js';
import type { EngineContext } from './engine-context.js';
import { canFindLostJobs, requeueLostJobs } from './lost-jobs.js';
import { completeFromLedger } from './process-import.js';
import { connectHeard } from './heard-client.js';

// About when this process started: core is loaded before any importer.
const processStartedAt = new Date().toISOString();

// A live worker writes progress at least once a second; this much silence
// from an import claimed before this process started means its worker
// went with the old process.
const restartGraceMs = 5_000;

/**
 * How long an import may stay silent in `processing` behind a durable
 * queue before the sweep calls it lost: long enough for the queue to hand
 * a dead worker's job to another worker on every attempt it has left.
 * A live worker writes progress at least once a second, so only an import
 * whose job the queue gave up on (its last attempt died) stays silent
 * this long.
 */
export function durableStaleAfterMs(
  engine: EngineContext,
  staleAfterMs: number,
): number {
  const { redeliveryAfterMs, maxAttempts } = engine.queue.capabilities;
  const redelivery = redeliveryAfterMs ?? 10 * staleAfterMs;
  return Math.max(staleAfterMs, 2 * redelivery * Math.max(1, maxAttempts));
}

/**
 * Finds the imports no worker will finish and marks them failed with
 * WORKER_LOST (see `Importer.recoverStale`). An import the ledger shows
 * applied (its worker died between COMMIT and the status write) is marked
 * completed instead. Each is a compare-and-set on the state it was found
 * in, so an import that moved on meanwhile is left alone. Behind a
 * durable queue that can say which jobs it holds, a `queued` import whose
 * job never reached the queue is enqueued again (see lost-jobs.ts).
 */
export async function recoverStaleImports(
  engine: EngineContext,
  olderThanMs: number,
  lostJobAfterMs = engine.lostJobAfterMs,
): Promise<ImportRecord[]> {
  const { statusStore, queue } = engine;
  if (!statusStore.listByState) {
    engine.logger.debug('the status store cannot list by state: no sweep');
    return [];
  }
  const now = Date.now();
  const staleBefore = new Date(now - olderThanMs).toISOString();
  const silentBefore = new Date(now - restartGraceMs).toISOString();
  const durable = queue.capabilities.durable;

  const lost: ImportRecord[] = [];
  for await (const record of recordsIn(engine, 'processing')) {
    const stale = record.progress.updatedAt < staleBefore;
    const orphaned =
      !durable &&
      (record.startedAt ?? record.createdAt) < processStartedAt &&
      record.progress.updatedAt < silentBefore;
    if (stale || orphaned) lost.push(record);
  }
  if (!durable) {
    // Their jobs lived in the memory of a process that is gone.
    for await (const record of recordsIn(engine, 'queued')) {
      if (record.createdAt < processStartedAt) lost.push(record);
    }
  }
  await requeueLostJobsIn(engine, lostJobAfterMs);

  const failed: ImportRecord[] = [];
  for (const record of lost) {
    if (record.state === 'processing') {
      const applied = await appliedCounts(engine, record.id);
      if (applied) {
        await completeFromLedger(engine, record, record.progress, applied);
        continue;
      }
    }

    const finishedAt = new Date().toISOString();
    const result = await statusStore.transition(record.id, [record.state], {
      state: 'failed',
      failure: {
        code: ErrorCodes.WORKER_LOST,
        message:
          record.state === 'queued'
            ? 'the queue lost this import when its process stopped; retry it'
            : 'the worker processing this import stopped before it finished; retry it (it is never applied twice)',
      },
      finishedAt,
      progress: { ...record.progress, phase: 'done', updatedAt: finishedAt },
    });
    if (result) {
      engine.logger
        .child({
          importId: record.id,
          tenant: record.tenant,
          entity: record.entity,
        })
        .error(
          { code: ErrorCodes.WORKER_LOST, was: record.state },
          'import lost',
        );
      failed.push(result);
    }
  }
  return failed;
}

/**
 * The `queued` imports whose job never reached a durable queue go back
 * to it. A queue that cannot answer now does not stop the rest of the
 * sweep; the next one tries again.
 */
async function requeueLostJobsIn(
  engine: EngineContext,
  lostJobAfterMs: number,
): Promise<void> {
  if (!canFindLostJobs(engine)) return;
  try {
    for await (const page of pagesIn(engine, 'queued')) {
      await requeueLostJobs(engine, page, lostJobAfterMs);
    }
  } catch (error) {
    engine.logger.warn(
      { error: String(error) },
      'could not enqueue lost jobs again',
    );
  }
}

async function* recordsIn(
  engine: EngineContext,
  state: ImportState,
): AsyncGenerator<ImportRecord> {
  for await (const page of pagesIn(engine, state)) yield* page;
}

async function* pagesIn(
  engine: EngineContext,
  state: ImportState,
): AsyncGenerator<ImportRecord[]> {
  const listByState = engine.statusStore.listByState?.bind(engine.statusStore);
  if (!listByState) return;
  let cursor: string | undefined;
  for (;;) {
    const page = await listByState({
      state,
      limit: 500,
      ...(cursor !== undefined && { cursor }),
    });
    yield page.items;
    if (page.nextCursor === null) return;
    cursor = page.nextCursor;
  }
}

/** The ledger's counts of an applied import, or undefined. */
async function appliedCounts(engine: EngineContext, importId: string) {
  const client = await connectHeard(engine.database);
  try {
    return await findAppliedImport(client, engine.ledgerSchema, importId);
  } catch {
    // No ledger yet means nothing was ever applied in this database.
    return undefined;
  } finally {
    client.release();
  }
}

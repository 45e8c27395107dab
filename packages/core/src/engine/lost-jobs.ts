import type { ImportRecord } from '../ports/import-record.js';
import type { ImportJob } from '../ports/queue.js';
import type { EngineContext } from './engine-context.js';

/** The queue job of an import. */
export function jobOf(record: ImportRecord): ImportJob {
  return {
    importId: record.id,
    tenant: record.tenant,
    entity: record.entity,
    orderingKey: `${record.tenant}/${record.entity}`,
  };
}

/**
 * When a `queued` import took its place in the queue: when it was created,
 * or retried. Both write its progress then, and no worker writes progress
 * before it has claimed the import.
 */
export function queuedSince(record: ImportRecord): string {
  return record.progress.updatedAt;
}

/** Whether the engine can tell a lost job from one that is waiting. */
export function canFindLostJobs(engine: EngineContext): boolean {
  const { queue } = engine;
  return queue.capabilities.durable && queue.findHeldJobs !== undefined;
}

/**
 * Enqueues again, in their place, the imports among `records` whose job
 * never reached the queue: `queued` for longer than `afterMs`, and not
 * held by the queue. That is what a process leaves when it dies between
 * writing the record (created, or moved back to `queued` by a retry) and
 * enqueueing its job. Returns the imports enqueued again.
 *
 * The new job is placed by when the import was queued, so it runs before
 * the jobs of its key queued after it that no worker has started. A job
 * that was only slow, not lost, is then there twice: the claim, a
 * compare-and-set from `queued`, lets one of them run the import, and the
 * ledger would refuse a second MERGE anyway.
 *
 * TODO: imports of the same tenant and entity queued after a lost one and
 * started before it was found (within `afterMs` and a sweep interval of
 * the crash) are applied before it. Closing that window needs the record
 * and its job written in one step (one transaction when both live in
 * PostgreSQL), or a claim that waits for older imports of its key.
 */
export async function requeueLostJobs(
  engine: EngineContext,
  records: readonly ImportRecord[],
  afterMs: number,
): Promise<ImportRecord[]> {
  const { queue, statusStore } = engine;
  if (!canFindLostJobs(engine) || !queue.findHeldJobs) return [];
  const before = new Date(Date.now() - afterMs).toISOString();
  const waiting = records.filter(
    (record) => record.state === 'queued' && queuedSince(record) < before,
  );
  if (waiting.length === 0) return [];

  // Oldest first, so that a key that lost several keeps them in turn.
  const held = await queue.findHeldJobs(waiting.map(jobOf));
  const lost = waiting
    .filter((record) => !held.has(record.id))
    .sort((a, b) => (queuedSince(a) < queuedSince(b) ? -1 : 1));

  const requeued: ImportRecord[] = [];
  for (const record of lost) {
    // Claimed, cancelled or retried since it was read: not lost.
    const current = await statusStore.getById(record.id);
    if (
      current?.state !== 'queued' ||
      queuedSince(current) !== queuedSince(record)
    ) {
      continue;
    }

    const queuedAt = queuedSince(current);
    await queue.enqueue(jobOf(current), { queuedAt });
    engine.logger
      .child({
        importId: current.id,
        tenant: current.tenant,
        entity: current.entity,
      })
      .warn(
        { queuedAt },
        'import queued again: its job never reached the queue',
      );
    requeued.push(current);
  }
  return requeued;
}

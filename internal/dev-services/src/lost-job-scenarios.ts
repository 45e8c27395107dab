// The crashes between an import record and its job, which every durable
// queue's tests run on their own adapters: a host (a fixture running
// runEnqueueCrashProcess) SIGKILLs itself after the record is written and
// before its job reaches the queue, and the import must not stay `queued`
// for ever. The harness must be opened with a short `lostJobAfterMs`.
import { Readable } from 'node:stream';
import type { ImportRecord } from '@erp-import/core';
import { waitFor } from '@erp-import/core/testing';
import { expect } from 'vitest';
import { startChild } from './child-processes.js';
import {
  enqueueItems,
  waitForCompleted,
  type EngineHarness,
  type HarnessAdapters,
} from './engine-harness.js';
import { crashUploadCsv } from './worker-processes.js';

type Harness = EngineHarness<HarnessAdapters>;

const settleMs = 60_000;

/**
 * Runs the crashing host `fixture` with the workers' environment and
 * `env`, and answers the import it left behind once it died in enqueue.
 */
async function crashBeforeEnqueue(
  harness: Harness,
  fixture: URL,
  env: Record<string, string>,
): Promise<ImportRecord> {
  const host = startChild(fixture, { ...harness.workerEnv, ...env });
  await waitFor(
    () => host.process.exitCode !== null || host.process.signalCode !== null,
    { timeoutMs: 60_000, description: 'the host to die' },
  );
  const line = host.lines.find((text) => text.startsWith('enqueue '));
  if (host.process.signalCode !== 'SIGKILL' || !line) {
    throw new Error(`the host did not die in enqueue: ${host.stderr()}`);
  }
  const record = await harness.importer.get('acme', line.split(' ')[1] ?? '');

  // The window really left the import without a job.
  expect(record.state).toBe('queued');
  expect(await heldJobs(harness, record)).toEqual(new Set());
  return record;
}

function heldJobs(harness: Harness, record: ImportRecord) {
  const { queue } = harness.adapters;
  if (!queue.findHeldJobs) throw new Error('the queue has no findHeldJobs');
  return queue.findHeldJobs([
    {
      importId: record.id,
      tenant: record.tenant,
      entity: record.entity,
      orderingKey: `${record.tenant}/${record.entity}`,
    },
  ]);
}

/** Until `record` has been queued longer than the harness's bound. */
async function waitPastLostJobBound(record: ImportRecord, boundMs: number) {
  const due = Date.parse(record.progress.updatedAt) + boundMs + 200;
  await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
}

/** Stops the workers a scenario started, so the next starts clean. */
export async function stopWorkers(harness: Harness): Promise<void> {
  await Promise.all(harness.workers.splice(0).map((worker) => worker.kill()));
}

/** A running worker's sweep enqueues the lost upload again; it applies. */
export async function lostUploadIsTakenByAWorker(
  harness: Harness,
  fixture: URL,
): Promise<void> {
  const lost = await crashBeforeEnqueue(harness, fixture, {
    FAULT: 'kill-in-enqueue',
  });

  await harness.startWorkers(1);
  const done = await waitForCompleted(harness.importer, lost, settleMs);
  expect(done.counts).toMatchObject({ read: 2, rejected: 0 });
  expect(
    await harness.count(
      'SELECT count(*) AS n FROM erp_import.applied_imports WHERE import_id = $1',
      [lost.id],
    ),
  ).toBe(1);
}

/**
 * With no worker running, a resend under the same idempotency key answers
 * the lost import, with its job back in the queue; a worker then applies
 * it.
 */
export async function resendFindsLostUploadQueuedAgain(
  harness: Harness,
  fixture: URL,
  boundMs: number,
): Promise<void> {
  const idempotencyKey = `lost-${Date.now()}`;
  const lost = await crashBeforeEnqueue(harness, fixture, {
    FAULT: 'kill-in-enqueue',
    IDEMPOTENCY_KEY: idempotencyKey,
  });
  await waitPastLostJobBound(lost, boundMs);

  const again = await harness.importer.enqueue({
    tenant: 'acme',
    entity: 'items',
    format: 'csv',
    idempotencyKey,
    body: crashUploadCsv(),
  });
  expect(again).toMatchObject({
    created: false,
    record: { id: lost.id, state: 'queued' },
  });
  expect(await heldJobs(harness, lost)).toEqual(new Set([lost.id]));

  await harness.startWorkers(1);
  await waitForCompleted(harness.importer, lost, settleMs);
}

/**
 * A retry whose host died after moving the import back to `queued` is
 * taken by a worker again: an empty file fails once more, on a second
 * attempt.
 */
export async function lostRetryIsTakenByAWorker(
  harness: Harness,
  fixture: URL,
): Promise<void> {
  const { importer } = harness;
  await harness.startWorkers(1);
  const { record } = await importer.enqueue({
    tenant: 'acme',
    entity: 'items',
    format: 'csv',
    body: Readable.from([Buffer.from('')]),
  });
  const failed = await waitForState(harness, record, 'failed', 1);

  const lost = await crashBeforeEnqueue(harness, fixture, {
    FAULT: 'kill-in-retry',
    IMPORT_ID: record.id,
  });
  expect(lost.id).toBe(record.id);

  const again = await waitForState(harness, record, 'failed', 2);
  expect(again.failure?.code).toBe(failed.failure?.code);
}

/**
 * An import lost before two others of its key were queued runs first
 * once it is found: the worker's first sweep, before it takes any job,
 * puts its job back in its place, ahead of the two waiting ones.
 */
export async function lostUploadKeepsItsPlace(
  harness: Harness,
  fixture: URL,
  boundMs: number,
): Promise<void> {
  const { importer } = harness;
  const lost = await crashBeforeEnqueue(harness, fixture, {
    FAULT: 'kill-in-enqueue',
  });
  const later = [
    await enqueueItems(importer, 10),
    await enqueueItems(importer, 20),
  ];
  await waitPastLostJobBound(lost, boundMs);

  const [worker] = await harness.startWorkers(1);
  for (const record of [lost, ...later]) {
    await waitForCompleted(importer, record, settleMs);
  }
  const taken = (worker?.lines ?? [])
    .filter((line) => line.startsWith('taken '))
    .map((line) => line.split(' ')[1]);
  expect(taken).toEqual([lost, ...later].map((record) => record.id));

  // And applied in that order.
  const { rows } = await harness.pool.query(
    `SELECT import_id FROM erp_import.applied_imports
     WHERE import_id = ANY($1) ORDER BY applied_at`,
    [[lost, ...later].map((record) => record.id)],
  );
  expect(rows.map((row: { import_id: string }) => row.import_id)).toEqual(
    [lost, ...later].map((record) => record.id),
  );
}

async function waitForState(
  harness: Harness,
  record: ImportRecord,
  state: ImportRecord['state'],
  attempts: number,
): Promise<ImportRecord> {
  return waitFor(
    async () => {
      const current = await harness.importer.get(record.tenant, record.id);
      return current.state === state && current.attempts >= attempts && current;
    },
    { timeoutMs: settleMs, intervalMs: 200, description: `${state} again` },
  );
}

import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import {
  ErrorCodes,
  ImportError,
  toImportError,
} from '../errors/import-error.js';
import { encodeRow } from '../loader/copy-stream.js';
import type { EncodedRows } from '../loader/encoded-rows.js';
import { createRepeatedKeyFilter } from '../loader/repeated-keys.js';
import type { RowIssue } from '../ports/error-log.js';
import type { RecordReader } from '../readers/record-reader.js';
import { RecordTally } from './import-counts.js';
import type { IssueWriter } from './issue-writer.js';
import type {
  FromThread,
  ParseThreadData,
  TallySnapshot,
  ToThread,
} from './parse-thread-protocol.js';
import { serializeError } from './parse-thread-protocol.js';
import { readRowBatches } from './process-import.js';
import { createReaderFor } from './reader-factory.js';

/**
 * The parse thread's entry: decode, parse, map, validate and encode one
 * import's rows as COPY text, off the thread that talks to the database.
 * It runs the engine's own `readRows`, so records, issues, positions and
 * counts are exactly those of an import read in the main thread.
 *
 * States: it announces itself (`ready`), then loops pulling bytes on
 * demand, sending a batch whenever one fills and it holds a credit, and
 * waiting for a credit when it holds none; it ends with `done` or
 * `failed` and the engine terminates it.
 */

if (parentPort !== null) {
  void runParseThread(parentPort, workerData as ParseThreadData);
}

/** Issues sent in one batch at most, rows or not. */
const issuesPerBatch = 500;
/** COPY lines joined into one string before they are written as UTF-8. */
const linesPerWrite = 16;
/** Batches' memory kept for reuse, handed back by the engine. */
const maxSpares = 32;

async function runParseThread(
  port: MessagePort,
  data: ParseThreadData,
): Promise<void> {
  const start = performance.eventLoopUtilization();
  const post = (message: FromThread) => port.postMessage(message);
  const credits = createCredits(data.credits);
  // Room for a batch of plain text; a batch of wider characters grows.
  const batches = createBatches(
    data.layout.targets.length,
    data.batchChars + 65536,
  );

  // Bytes arrive only when asked for: one request in flight at a time.
  const input = new Readable({
    highWaterMark: 1024 * 1024,
    read: () => post({ type: 'need' }),
  });
  port.on('message', (message: ToThread) => {
    if (message.type === 'input') {
      const { chunk } = message;
      input.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    } else if (message.type === 'end') {
      input.push(null);
    } else if (message.type === 'spare') {
      batches.spare(message.buffer);
    } else {
      credits.give();
    }
  });
  post({ type: 'ready' });

  const { definition, layout } = data;
  let reader: RecordReader | undefined;
  const detected = () => ({ ...reader?.detected() });
  const tally = new RecordTally();
  const filters = layout.targets.map((target) =>
    createRepeatedKeyFilter(target.definition),
  );
  try {
    reader = createReaderFor(data.format)(input, {
      definition,
      options: data.options,
    });

    // One target's lines (or none) with the issues gathered so far.
    const send = async (target?: number) => {
      const rowsHeld = target !== undefined && batches.count(target) > 0;
      if (!rowsHeld && batches.issues.length === 0) return;
      await credits.take();
      const filter = target === undefined ? undefined : filters[target];
      const rows = rowsHeld
        ? batches.takeRows(
            target,
            layout.targets,
            filter === undefined || filter.mayRepeat,
          )
        : undefined;
      const bytes = rows?.text;
      port.postMessage(
        {
          type: 'batch',
          rows,
          issues: batches.takeIssues(),
          tally: snapshot(tally),
          detected: detected(),
        } satisfies FromThread,
        // Moved, not copied: the engine's thread never holds the text.
        bytes instanceof Uint8Array ? [bytes.buffer as ArrayBuffer] : [],
      );
    };
    const issues: IssueWriter = {
      async add(list) {
        batches.issues.push(...list);
        if (batches.issues.length >= issuesPerBatch) await send();
      },
      flush: async () => undefined,
    };

    const byEntity = new Map(
      layout.targets.map((target, index) => [target.definition.entity, index]),
    );
    const rowBatches = readRowBatches({
      // The engine clears the error log itself before taking a batch.
      engine: { errorLog: { clear: async () => undefined } },
      record: { id: data.importId },
      definitions: [definition, ...(definition.children ?? [])],
      reader,
      issues,
      tally,
    });
    // Each target gathers its own lines: rows of parents and children
    // that alternate in the file do not cut each other's batches short.
    for await (const rows of rowBatches) {
      for (const row of rows) {
        const target = row.entity === undefined ? 0 : byEntity.get(row.entity);
        if (target === undefined) throw unknownEntity(row.entity);
        filters[target]?.add(row.values);
        const line = encodeRow(
          row,
          batches.nextSeq(target),
          layout.targets[target]!,
          layout.tenant,
        );
        batches.add(target, line, row.keyOnly === true);
        if (batches.chars(target) >= data.batchChars) await send(target);
      }
    }
    for (let target = 0; target < layout.targets.length; target++) {
      await send(target);
    }
    await send();

    post({
      type: 'done',
      tally: snapshot(tally),
      detected: detected(),
      busyMs: Math.round(performance.eventLoopUtilization(start).active),
      reused: batches.reused,
    });
  } catch (error) {
    post({
      type: 'failed',
      error: serializeError(toImportError(error)),
      issues: batches.takeIssues(),
      tally: snapshot(tally),
      detected: detected(),
    });
  }
}

/** Batches the thread may still send before the engine takes one. */
function createCredits(initial: number) {
  let available = initial;
  let waiting: (() => void) | undefined;
  return {
    give() {
      available += 1;
      waiting?.();
      waiting = undefined;
    },
    async take() {
      while (available === 0) {
        await new Promise<void>((resolve) => (waiting = resolve));
      }
      available -= 1;
    },
  };
}

/**
 * The lines being gathered, one batch per target, and the issues beside
 * them. Each line is written as UTF-8 into its target's buffer as soon as
 * it is encoded, so it dies young: lines kept as strings until the batch
 * was sent outlived the young generation and made every collection copy
 * them (half the thread's time went to the collector). A batch leaves as
 * a copy of exactly its bytes, and the buffer serves the next one.
 */
function createBatches(targetCount: number, bytesHint: number) {
  const seq = new Array<number>(targetCount).fill(0);
  const open = Array.from({ length: targetCount }, () => ({
    buffer: Buffer.allocUnsafe(bytesHint),
    used: 0,
    lines: '',
    linesHeld: 0,
    count: 0,
    keyOnly: 0,
    chars: 0,
    firstSeq: 1,
  }));
  type Open = (typeof open)[number];
  // Batches' memory handed back by the engine, for the next batches.
  const spares: ArrayBuffer[] = [];
  let reused = 0;
  const takeSpare = (bytes: number): ArrayBuffer | undefined => {
    while (spares.length > 0) {
      const spare = spares.pop()!;
      if (spare.byteLength >= bytes) {
        reused++;
        return spare;
      }
    }
    return undefined;
  };

  const flushLines = (batch: Open) => {
    // A UTF-8 character takes at most 3 bytes per UTF-16 unit.
    const room = batch.buffer.length - batch.used;
    if (room < batch.lines.length * 3) {
      const larger = Buffer.allocUnsafe(
        Math.max(batch.buffer.length * 2, batch.used + batch.lines.length * 3),
      );
      batch.buffer.copy(larger, 0, 0, batch.used);
      batch.buffer = larger;
    }
    batch.used += batch.buffer.write(batch.lines, batch.used, 'utf8');
    batch.lines = '';
    batch.linesHeld = 0;
  };

  return {
    issues: [] as RowIssue[],
    /** Batches written into handed-back memory so far. */
    get reused() {
      return reused;
    },
    nextSeq(target: number): number {
      seq[target] = seq[target]! + 1;
      return seq[target]!;
    },
    count: (target: number) => open[target]!.count,
    chars: (target: number) => open[target]!.chars,
    add(target: number, line: string, keyOnly: boolean) {
      const batch = open[target]!;
      if (batch.count === 0) batch.firstSeq = seq[target]!;
      // A few lines are joined before each write: a write per line costs
      // more in the call than in the copy.
      batch.lines += line;
      batch.linesHeld += 1;
      if (batch.linesHeld === linesPerWrite) flushLines(batch);
      batch.count += 1;
      if (keyOnly) batch.keyOnly += 1;
      batch.chars += line.length;
    },
    takeRows(
      target: number,
      targets: ParseThreadData['layout']['targets'],
      keysMayRepeat: boolean,
    ): EncodedRows {
      const batch = open[target]!;
      flushLines(batch);
      const entity = targets[target]!.definition.entity;
      // An ArrayBuffer of its own to transfer: one the engine handed back,
      // or a new one with the room a batch usually needs.
      const text = new Uint8Array(
        takeSpare(batch.used) ??
          new ArrayBuffer(Math.max(batch.used, bytesHint)),
        0,
        batch.used,
      );
      text.set(batch.buffer.subarray(0, batch.used));
      const rows: EncodedRows = {
        kind: 'encoded',
        ...(target > 0 && { entity }),
        text,
        count: batch.count,
        firstSeq: batch.firstSeq,
        keysMayRepeat,
        keyOnlyCount: batch.keyOnly,
      };
      batch.used = 0;
      batch.count = 0;
      batch.keyOnly = 0;
      batch.chars = 0;
      return rows;
    },
    spare(buffer: ArrayBuffer) {
      // As many as are in flight at most; more would only sit here.
      if (spares.length < maxSpares) spares.push(buffer);
    },
    takeIssues(): RowIssue[] {
      const taken = this.issues;
      this.issues = [];
      return taken;
    },
  };
}

function snapshot(tally: RecordTally): TallySnapshot {
  return [...tally.entities].map(([entity, counts]) => [
    entity,
    counts.read,
    counts.rejected,
  ]);
}

function unknownEntity(entity: string | undefined): ImportError {
  return new ImportError(
    ErrorCodes.UNKNOWN_ENTITY,
    `a row names entity "${entity}", which this import does not write`,
    { details: { entity } },
  );
}

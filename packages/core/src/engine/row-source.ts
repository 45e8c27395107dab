import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CoercedRow } from '../coercion/coerced-row.js';
import type { ImportDefinition } from '../definitions/import-definition.js';
import type {
  CopyLayout,
  EncodedRows,
  RowSource,
  StagedItem,
} from '../loader/encoded-rows.js';
import type { Logger } from '../logging/logger.js';
import type { ImportRecord } from '../ports/import-record.js';
import type { DetectedFormat, RecordReader } from '../readers/record-reader.js';
import type { EngineContext } from './engine-context.js';
import type { RecordTally } from './import-counts.js';
import type { IssueWriter } from './issue-writer.js';
import {
  deserializeError,
  threadCrashed,
  threadFailure,
  type FromThread,
  type ParseThreadData,
  type TallySnapshot,
  type ToThread,
} from './parse-thread-protocol.js';
import { createReaderFor } from './reader-factory.js';

/**
 * Where an import's rows come from: a reader in this thread, or, for a
 * file of at least `parseThreadMinBytes`, a parse thread that reads,
 * validates and encodes while this thread streams its output into COPY
 * (Node and the database then work at the same time). Either way the
 * issues land in the same error log in the same order and the tally
 * holds the same counts.
 */
export interface RowSourceHandle {
  rows: AsyncIterable<StagedItem> | RowSource;
  detected(): DetectedFormat;
  /** Bytes of the stored input consumed so far. */
  bytesRead(): number;
  /** The parse thread's busy time, once it finished; undefined without. */
  parseMs(): number | undefined;
  /** Stops reading (the thread too) when loading ended early. */
  close(): Promise<void>;
}

export interface OpenRowSourceOptions {
  engine: EngineContext;
  record: ImportRecord;
  definition: ImportDefinition;
  input: Readable;
  issues: IssueWriter;
  tally: RecordTally;
  logger: Logger;
  /** The engine's reading in this thread, over a reader of the input. */
  readInProcess(reader: RecordReader): AsyncGenerator<CoercedRow>;
}

/** Batches a thread may send ahead; each holds about `batchChars`. */
const threadCredits = 4;
const batchChars = 256 * 1024;

// Set once a thread failed to start: the rest of the process reads in
// its own thread rather than failing every import.
let threadsUnavailable = false;

export function openRowSource(options: OpenRowSourceOptions): RowSourceHandle {
  const { engine, record } = options;
  const threaded =
    !threadsUnavailable && record.byteSize >= engine.parseThreadMinBytes;
  return threaded ? openThreaded(options) : openInProcess(options);
}

function openInProcess(options: OpenRowSourceOptions): RowSourceHandle {
  const reader = createInputReader(options);
  const rows = options.readInProcess(reader);
  return {
    rows,
    detected: () => reader.detected(),
    bytesRead: () => reader.bytesRead(),
    parseMs: () => undefined,
    async close() {
      await rows.return(undefined);
    },
  };
}

function createInputReader(options: OpenRowSourceOptions): RecordReader {
  const { record, input } = options;
  try {
    return createReaderFor(record.format)(input, {
      definition: options.definition,
      options: record.options,
    });
  } catch (error) {
    input.destroy();
    throw error;
  }
}

function openThreaded(options: OpenRowSourceOptions): RowSourceHandle {
  const { engine, record, input, issues, tally, logger } = options;
  const detected: DetectedFormat = {};
  let bytes = 0;
  let busyMs: number | undefined;
  let worker: Worker | undefined;
  // Taken when the thread cannot start: the import is read here instead.
  let fallback: RowSourceHandle | undefined;

  async function* generate(layout: CopyLayout): AsyncGenerator<StagedItem> {
    const started = await startThread(
      {
        importId: record.id,
        format: record.format,
        definition: options.definition,
        options: record.options,
        layout,
        credits: threadCredits,
        batchChars,
      },
      () => tally.read,
    );
    if (started.worker === undefined) {
      threadsUnavailable = true;
      logger.warn(
        { error: String(started.error) },
        'parse thread unavailable; reading in the main thread from now on',
      );
      fallback = openInProcess(options);
      yield* fallback.rows as AsyncGenerator<CoercedRow>;
      return;
    }
    worker = started.worker;
    const { inbox } = started;
    const thread = worker;
    // Once the thread finished, a batch's memory is of no more use to it.
    let threadDone = false;

    // The error log is cleared only once the loader reads rows, as when
    // reading in this thread, so an import applied already keeps its log.
    await engine.errorLog.clear(record.id);

    const chunks = input[Symbol.asyncIterator]();
    const feed = async () => {
      try {
        const next = await chunks.next();
        if (next.done === true) {
          send(thread, { type: 'end' });
          return;
        }
        const bytesIn = next.value as Buffer;
        bytes += bytesIn.length;
        // Moved to the thread when the chunk fills its memory alone; a
        // chunk that shares its memory with others is copied first.
        const chunk =
          bytesIn.byteOffset === 0 &&
          bytesIn.byteLength === bytesIn.buffer.byteLength
            ? bytesIn
            : new Uint8Array(bytesIn);
        send(thread, { type: 'input', chunk }, [chunk.buffer as ArrayBuffer]);
      } catch (error) {
        inbox.fail(error);
      }
    };

    for (;;) {
      const message = await inbox.next();
      switch (message.type) {
        case 'need':
          void feed();
          break;
        case 'batch':
          Object.assign(detected, message.detected);
          if (message.issues.length > 0) await issues.add(message.issues);
          applyTally(tally, message.tally);
          if (message.rows !== undefined) {
            yield withRelease(message.rows, thread, () => threadDone);
          }
          // Taken by the loader (or carrying none): the thread may send
          // another.
          send(thread, { type: 'credit' });
          break;
        case 'done':
          threadDone = true;
          Object.assign(detected, message.detected);
          applyTally(tally, message.tally);
          busyMs = message.busyMs;
          logger.debug(
            { busyMs, reusedBatches: message.reused },
            'parse thread done',
          );
          // Its heap is of no more use: freed before the MERGE, not after.
          await thread.terminate();
          await issues.flush();
          return;
        case 'failed':
          Object.assign(detected, message.detected);
          if (message.issues.length > 0) await issues.add(message.issues);
          applyTally(tally, message.tally);
          throw deserializeError(message.error);
        case 'ready':
          break;
      }
    }
  }

  return {
    rows: (layout) => generate(layout),
    detected: () => fallback?.detected() ?? { ...detected },
    bytesRead: () => fallback?.bytesRead() ?? bytes,
    parseMs: () => busyMs,
    async close() {
      await fallback?.close();
      await worker?.terminate();
    },
  };
}

/**
 * A batch whose bytes go back to the thread once the loader is done with
 * them (loader/buffer-returns.ts): the thread writes a later batch into
 * them rather than leave them to this thread's collector.
 */
function withRelease(
  rows: EncodedRows,
  thread: Worker,
  threadDone: () => boolean,
): EncodedRows {
  const { text } = rows;
  if (!(text instanceof Uint8Array)) return rows;
  return {
    ...rows,
    release() {
      if (threadDone() || text.buffer.byteLength === 0) return;
      const buffer = text.buffer as ArrayBuffer;
      send(thread, { type: 'spare', buffer }, [buffer]);
    },
  };
}

function send(worker: Worker, message: ToThread, transfer?: ArrayBuffer[]) {
  worker.postMessage(message, transfer);
}

// The counts are the thread's, whole so far, as of the batch taken.
function applyTally(tally: RecordTally, snapshot: TallySnapshot): void {
  let read = 0;
  let rejected = 0;
  for (const [entity, entityRead, entityRejected] of snapshot) {
    tally.entities.set(entity, { read: entityRead, rejected: entityRejected });
    read += entityRead;
    rejected += entityRejected;
  }
  tally.read = read;
  tally.rejected = rejected;
}

/** The thread's messages in order; a crash or an input failure rejects. */
function createInbox(worker: Worker, recordsRead: () => number) {
  const queue: FromThread[] = [];
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  worker.on('message', (message: FromThread) => {
    queue.push(message);
    notify();
  });
  worker.on('error', (error) => {
    failure ??= threadFailure(error, heapMb, recordsRead());
    notify();
  });
  worker.on('exit', (code) => {
    failure ??= threadCrashed(`it exited with code ${code}`);
    notify();
  });
  return {
    fail(error: unknown) {
      failure ??= error;
      notify();
    },
    async next(): Promise<FromThread> {
      for (;;) {
        // Messages already sent are read before a failure is reported.
        const message = queue.shift();
        if (message !== undefined) return message;
        if (failure !== undefined) throw failure;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

type Inbox = ReturnType<typeof createInbox>;

type StartedThread =
  | { worker: Worker; inbox: Inbox; error?: undefined }
  | { worker?: undefined; inbox?: undefined; error: unknown };

/**
 * Starts a thread and waits for it to announce itself. A thread that
 * cannot load its code (no build of it next to this file, no TypeScript
 * loader in development) fails or exits instead of saying `ready`.
 */
async function startThread(
  data: ParseThreadData,
  recordsRead: () => number,
): Promise<StartedThread> {
  let worker: Worker;
  try {
    worker = createParseWorker(data);
  } catch (error) {
    return { error };
  }
  // Listening from the start: no message can slip by.
  const inbox = createInbox(worker, recordsRead);
  try {
    const first = await inbox.next();
    if (first.type !== 'ready') {
      throw threadCrashed(`it sent "${first.type}" before "ready"`);
    }
    return { worker, inbox };
  } catch (error) {
    await worker.terminate();
    return { error };
  }
}

/**
 * The thread makes garbage fast, and V8 lets an unbounded heap grow by a
 * hundred megabytes before collecting; ceilings make it collect sooner.
 * A 16 MB young generation (V8's default would be 48) keeps the
 * short-lived strings of each record in a small space. At 8 MB the
 * lines encoded for staging (longer than a direct load's) outlived it:
 * on the bench's 1M-row re-import the collector took 1.6 s of the
 * thread's 4.3 s, and 0.6 s of 3.0 s at 16 MB, for the same peak of the
 * worker (32 MB gave no more). A process started with Node's
 * `--max-semi-space-size` (README, "Worker memory") gives every thread
 * that semi-space instead: V8's flag wins over this ceiling. 64 MB of
 * old generation still holds a record at the CSV reader's 16 MiB limit,
 * or one at every limit of the JSON and XML readers
 * (readers/document-limits.ts), and, in development, tsx and the
 * sources.
 *
 * Past its heap a thread is meant to end alone, but V8 aborts the whole
 * process instead when the ceiling is met while it makes room for a
 * large allocation (nodejs/node#47224): the readers' limits are what
 * keeps a file from getting there, not this.
 */
const parseThreadLimits = {
  maxYoungGenerationSizeMb: 16,
  maxOldGenerationSizeMb: 64,
};
const heapMb = parseThreadLimits.maxOldGenerationSizeMb;

/**
 * The thread runs `parse-thread` from next to this module: the built
 * `.js` or `.cjs` file in a package, or the TypeScript source in this
 * repository's development and tests, loaded through tsx (a worker does
 * not inherit the loader its parent was started with).
 */
function createParseWorker(data: ParseThreadData): Worker {
  const here = moduleUrl();
  if (here.endsWith('.ts')) {
    const entry = new URL('./parse-thread.ts', here).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    const code =
      `import(${JSON.stringify(tsx)})` +
      `.then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
    return new Worker(code, {
      eval: true,
      workerData: data,
      resourceLimits: parseThreadLimits,
    });
  }
  const file = here.endsWith('.cjs')
    ? './parse-thread.cjs'
    : './parse-thread.js';
  return new Worker(new URL(file, here), {
    workerData: data,
    resourceLimits: parseThreadLimits,
  });
}

function moduleUrl(): string {
  // The CommonJS build has no import.meta; it has __filename instead.
  const url = (import.meta as { url?: string }).url;
  return typeof url === 'string' ? url : pathToFileURL(__filename).href;
}

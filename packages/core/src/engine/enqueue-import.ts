import { createHash, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  ErrorCodes,
  ImportError,
  toImportError,
} from '../errors/import-error.js';
import {
  emptyCounts,
  importFormats,
  type ImportLoadOptions,
  type ImportRecord,
} from '../ports/import-record.js';
import { resolveLoadPlan } from '../loader/load-plan.js';
import { normalizeEncodingName } from '../readers/decode.js';
import type { EngineContext } from './engine-context.js';
import { fileKeyFor } from './file-key.js';
import { checkReplay } from './idempotent-replay.js';
import { jobOf, requeueLostJobs } from './lost-jobs.js';
import type { EnqueueRequest, EnqueueResult } from './importer-types.js';

/**
 * The enqueue side: store the bytes, create the record, enqueue the job,
 * and answer. No byte of the file is read here beyond storing it.
 *
 * Idempotency: a known key answers with its import, storing nothing,
 * when the request is the same (entity, format, options: see
 * idempotent-replay.ts) and so are its bytes; the body is only hashed
 * for that. Two requests racing with one key both store their bytes;
 * the status store's atomic create keeps one record, and the loser
 * deletes the bytes it stored.
 */
export async function enqueueImport(
  engine: EngineContext,
  request: EnqueueRequest,
): Promise<EnqueueResult> {
  const { tenant, entity, format, idempotencyKey } = request;
  checkRequest(request);
  const definition = engine.definitions.get(entity);
  // A mode the definition does not allow, a missing scope parameter: refused
  // before a byte is stored.
  resolveLoadPlan(definition, request.load);
  checkThresholds(request.load);

  // The body may fail (its client gone, a limit passed) while the key is
  // looked up, before anything reads it: its error then waits on the
  // stream instead of killing the process, and reading it rejects.
  request.body.on('error', () => undefined);

  if (idempotencyKey !== undefined) {
    const existing = await engine.statusStore.getByIdempotencyKey?.(
      tenant,
      idempotencyKey,
    );
    if (existing) {
      checkReplay(existing, request, definition);
      // Read to its end (not destroyed, so an HTTP host can still answer)
      // and hashed: a key reused for other bytes is a client's mistake,
      // such as a corrected export sent under the first one's key.
      sameBytes(
        existing,
        request,
        await sha256Of(request.body, engine.maxUploadBytes),
      );
      return { record: await resumeIfLost(engine, existing), created: false };
    }
  }

  const id = randomUUID();
  const fileKey = fileKeyFor(tenant, id);
  const stored = await engine.fileStore
    .put(fileKey, request.body, {
      ...(engine.maxUploadBytes !== undefined && {
        maxBytes: engine.maxUploadBytes,
      }),
    })
    .catch((error: unknown) => {
      throw toImportError(error, ErrorCodes.STORE_ERROR);
    });

  const now = new Date().toISOString();
  const record: ImportRecord = {
    id,
    tenant,
    entity,
    format,
    state: 'queued',
    fileName: request.fileName ?? null,
    submittedBy: request.submittedBy ?? null,
    idempotencyKey: idempotencyKey ?? null,
    fileKey,
    byteSize: stored.size,
    checksum: stored.checksum,
    options: { ...request.options, ...loadOptionsOf(request.load) },
    detected: {},
    counts: emptyCounts(),
    progress: {
      bytesRead: 0,
      bytesTotal: stored.size,
      recordsRead: 0,
      recordsRejected: 0,
      phase: 'waiting',
      updatedAt: now,
    },
    failure: null,
    attempts: 0,
    createdAt: now,
    startedAt: null,
    finishedAt: null,
  };

  const created = await engine.statusStore
    .create(record)
    .catch(async (error) => {
      await engine.fileStore.delete(fileKey).catch(() => undefined);
      throw toImportError(error, ErrorCodes.STORE_ERROR);
    });
  if (!created.created) {
    await engine.fileStore.delete(fileKey);
    checkReplay(created.record, request, definition);
    sameBytes(created.record, request, stored.checksum);
    return { record: created.record, created: false };
  }

  await enqueueJob(engine, created.record);
  engine.logger.info(
    { importId: id, tenant, entity, bytes: stored.size },
    'import queued',
  );
  return created;
}

/** Hands the import to the queue; a refused job fails the import. */
export async function enqueueJob(
  engine: EngineContext,
  record: ImportRecord,
): Promise<void> {
  try {
    await engine.queue.enqueue(jobOf(record));
  } catch (error) {
    const failure = toImportError(error, ErrorCodes.QUEUE_ERROR);
    // Without a job no worker would ever take it: say so on the record.
    await engine.statusStore.transition(record.id, ['queued'], {
      state: 'failed',
      failure: { code: failure.code, message: failure.message },
      finishedAt: new Date().toISOString(),
    });
    throw failure;
  }
}

/**
 * A client resends when it got no answer, often because the process that
 * took its first request died, maybe before that import's job reached
 * the queue: such an import is enqueued again now rather than at the
 * next sweep. The resend still answers if that fails; the sweep retries.
 */
async function resumeIfLost(
  engine: EngineContext,
  record: ImportRecord,
): Promise<ImportRecord> {
  try {
    const [requeued] = await requeueLostJobs(
      engine,
      [record],
      engine.lostJobAfterMs,
    );
    return requeued ?? record;
  } catch (error) {
    engine.logger
      .child({ importId: record.id })
      .warn({ error: String(error) }, 'could not enqueue a lost job again');
    return record;
  }
}

function checkRequest(request: EnqueueRequest): void {
  if (request.tenant === '') {
    throw new ImportError(ErrorCodes.INVALID_REQUEST, 'the tenant is empty');
  }
  if (!(importFormats as readonly string[]).includes(request.format)) {
    throw new ImportError(
      ErrorCodes.UNSUPPORTED_FORMAT,
      `unknown format "${request.format}"`,
      { details: { format: request.format } },
    );
  }
  if (request.idempotencyKey === '') {
    throw new ImportError(
      ErrorCodes.INVALID_REQUEST,
      'the idempotency key is empty',
    );
  }

  // Settings the worker would only refuse later are refused now.
  const { encoding, delimiter } = request.options ?? {};
  if (encoding !== undefined) {
    try {
      normalizeEncodingName(encoding);
    } catch (error) {
      throw new ImportError(
        ErrorCodes.INVALID_REQUEST,
        (error as Error).message,
        { cause: error, details: { encoding } },
      );
    }
  }
  if (delimiter !== undefined && !/^[^"\r\n]$/u.test(delimiter)) {
    throw new ImportError(
      ErrorCodes.INVALID_REQUEST,
      `the delimiter must be one character other than a quote or a line break, not ${JSON.stringify(delimiter)}`,
      { details: { delimiter } },
    );
  }
}

function sameBytes(
  record: ImportRecord,
  request: EnqueueRequest,
  checksum: string,
): void {
  if (record.checksum !== checksum) {
    throw new ImportError(
      ErrorCodes.IDEMPOTENCY_CONFLICT,
      // The checksum is over the bytes as stored: a gzip body is other
      // bytes than the same file sent plain, or compressed otherwise.
      `idempotency key "${request.idempotencyKey}" already names import ${record.id} of other bytes (a gzip body is compared as sent, compressed); send a new key for a new file`,
      { details: { importId: record.id } },
    );
  }
}

// A replayed upload is held to the same limit as a stored one.
async function sha256Of(
  body: Readable,
  maxBytes: number | undefined,
): Promise<string> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (maxBytes !== undefined && size > maxBytes) {
      throw new ImportError(
        ErrorCodes.PAYLOAD_TOO_LARGE,
        `the file is larger than ${maxBytes} bytes`,
        { details: { maxBytes } },
      );
    }
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

function checkThresholds(load: ImportLoadOptions | undefined): void {
  const count = load?.maxRejected;
  const share = load?.maxRejectedShare;
  if (count !== undefined && !(Number.isSafeInteger(count) && count >= 0)) {
    throw new ImportError(
      ErrorCodes.INVALID_REQUEST,
      'maxRejected must be a whole number, 0 or more',
    );
  }
  if (share !== undefined && !(share >= 0 && share <= 1)) {
    throw new ImportError(
      ErrorCodes.INVALID_REQUEST,
      'maxRejectedShare must be between 0 and 1',
    );
  }
}

// Only the members that were given, so a record stays as small as before.
function loadOptionsOf(load: ImportLoadOptions | undefined): ImportLoadOptions {
  if (load === undefined) return {};
  const entries = Object.entries(load).filter(
    ([, value]) => value !== undefined,
  );
  return Object.fromEntries(entries) as ImportLoadOptions;
}

import {
  ErrorCodes,
  ImportError,
  toImportError,
} from '../errors/import-error.js';
import type { PgClientLike } from '../loader/pg-client.js';
import { purgeBeforeImages, revertImport } from '../loader/revert-import.js';
import type { ImportRecord } from '../ports/import-record.js';
import type { EngineContext } from './engine-context.js';
import type { PgPoolClientLike } from './importer-types.js';
import { connectHeard } from './heard-client.js';

/**
 * Reverts a completed import (see `revertImport`) and marks it
 * `reverted`: in the revert's own transaction when the status store lives
 * in the target database, right after its COMMIT otherwise.
 */
export async function revertCompletedImport(
  engine: EngineContext,
  record: ImportRecord,
): Promise<ImportRecord> {
  if (record.state !== 'completed') {
    throw new ImportError(
      ErrorCodes.INVALID_STATE,
      `import ${record.id} is ${record.state}; only a completed import ` +
        'can be reverted',
      { details: { importId: record.id, state: record.state } },
    );
  }
  const definition = engine.definitions.get(record.entity);
  const store = engine.statusStore;
  const inTransaction =
    store.transitionInTransaction !== undefined &&
    store.database === engine.database;
  // revertImport scopes its logger with the import id itself.
  const logger = engine.logger.child({
    tenant: record.tenant,
    entity: record.entity,
  });

  let reverted: ImportRecord | undefined;
  const markReverted = async (client?: PgClientLike) => {
    const marked =
      client !== undefined && store.transitionInTransaction !== undefined
        ? await store.transitionInTransaction(
            client,
            record.id,
            ['completed'],
            {
              state: 'reverted',
            },
          )
        : await store.transition(record.id, ['completed'], {
            state: 'reverted',
          });
    if (!marked) {
      throw new ImportError(
        ErrorCodes.INVALID_STATE,
        `import ${record.id} stopped being completed while it was reverted`,
        { details: { importId: record.id } },
      );
    }
    return marked;
  };

  try {
    await withClient(engine, (client) =>
      revertImport({
        client,
        importId: record.id,
        tenant: record.tenant,
        definitions: [definition, ...(definition.children ?? [])],
        ledgerSchema: engine.ledgerSchema,
        logger,
        ...(inTransaction && {
          beforeCommit: async (transaction: PgClientLike) => {
            reverted = await markReverted(transaction);
          },
        }),
      }),
    );
  } catch (error) {
    // A revert that committed while its status write (after COMMIT, with
    // a status store elsewhere) failed: the ledger knows; finish the job.
    const failure = toImportError(error);
    if (failure.details.alreadyReverted !== true) throw failure;
  }
  return reverted ?? (await markReverted());
}

/** `purgeBeforeImages` with the engine's retention. */
export async function purgeExpiredBeforeImages(
  engine: EngineContext,
): Promise<number> {
  const purged = await withClient(engine, (client) =>
    purgeBeforeImages(client, {
      ledgerSchema: engine.ledgerSchema,
      olderThanMs: engine.beforeImageRetentionMs,
    }),
  );
  if (purged > 0)
    engine.logger.info({ purged }, 'expired before-images purged');
  return purged;
}

async function withClient<T>(
  engine: EngineContext,
  work: (client: PgPoolClientLike) => Promise<T>,
): Promise<T> {
  const client = await connectHeard(engine.database).catch((error: unknown) => {
    throw toImportError(error, ErrorCodes.DATABASE_ERROR);
  });
  let broken = false;
  try {
    return await work(client);
  } catch (error) {
    broken = toImportError(error).code === ErrorCodes.DATABASE_ERROR;
    throw error;
  } finally {
    client.release(broken);
  }
}

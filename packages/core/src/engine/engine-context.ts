import type { DefinitionRegistry } from '../definitions/definition-registry.js';
import type { Logger } from '../logging/logger.js';
import type { ErrorLog } from '../ports/error-log.js';
import type { FileStore } from '../ports/file-store.js';
import type { ImportQueue } from '../ports/queue.js';
import type { StatusStore } from '../ports/status-store.js';
import type { PgPoolLike } from './importer-types.js';

/** The importer's options with every default filled in. */
export interface EngineContext {
  definitions: DefinitionRegistry;
  database: PgPoolLike;
  queue: ImportQueue;
  statusStore: StatusStore;
  errorLog: ErrorLog;
  fileStore: FileStore;
  logger: Logger;
  maxUploadBytes: number | undefined;
  progressIntervalMs: number;
  ledgerSchema: string;
  /** Files this large or larger are read in a parse thread. */
  parseThreadMinBytes: number;
  /** `work_mem` for an import's transaction; null keeps the server's. */
  mergeWorkMem: string | null;
  /** Every import keeps before-images (definitions may ask alone). */
  keepBeforeImages: boolean;
  beforeImageRetentionMs: number;
  /** How long a `queued` import may go without a job before it is lost. */
  lostJobAfterMs: number;
}

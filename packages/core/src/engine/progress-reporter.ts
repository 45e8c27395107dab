import type { Logger } from '../logging/logger.js';
import type { ImportProgress } from '../ports/import-record.js';
import type { StatusStore } from '../ports/status-store.js';

export interface ProgressCounters {
  bytesRead: number;
  recordsRead: number;
  recordsRejected: number;
}

export interface ProgressReporter {
  setPhase(phase: ImportProgress['phase']): void;
  /** The progress as it stands, stamped now. */
  current(): ImportProgress;
  stop(): Promise<void>;
}

export interface ProgressReporterOptions {
  statusStore: StatusStore;
  importId: string;
  bytesTotal: number | null;
  intervalMs: number;
  counters: () => ProgressCounters;
  logger: Logger;
}

/**
 * Writes an import's progress on a timer, once per interval, whatever the
 * worker is doing: a reader waiting on COPY or a long MERGE still shows a
 * fresh `updatedAt`, which is how a sweep tells a live import from one
 * whose worker is gone. Writes never overlap; a failed one is only logged
 * (progress is advisory).
 */
export function startProgressReporter(
  options: ProgressReporterOptions,
): ProgressReporter {
  let phase: ImportProgress['phase'] = 'reading';
  let writing: Promise<void> | undefined;

  const current = (): ImportProgress => ({
    ...options.counters(),
    bytesTotal: options.bytesTotal,
    phase,
    updatedAt: new Date().toISOString(),
  });

  const write = () => {
    if (writing) return;
    writing = options.statusStore
      .updateProgress(options.importId, current())
      .catch((error: unknown) => {
        options.logger.warn({ error: String(error) }, 'progress not written');
      })
      .finally(() => {
        writing = undefined;
      });
  };

  const timer = setInterval(write, options.intervalMs);
  timer.unref();

  return {
    setPhase(next) {
      phase = next;
    },
    current,
    async stop() {
      clearInterval(timer);
      await writing;
    },
  };
}

import type { PublicImportRecord } from '@erp-import/core/contract';
import cliProgress from 'cli-progress';
import { isFinalImportState } from '../client.js';
import type { UploadProgress } from '../transport.js';

/**
 * The progress a terminal user sees on stderr: a bar of the bytes sent,
 * then a bar of the file read by the worker with the records counted.
 * Off the terminal (a pipe, a CI log) it draws nothing, so stdout and
 * stderr stay clean for scripts.
 */
export interface ProgressDisplay {
  uploading(progress: UploadProgress): void;
  uploaded(): void;
  processing(record: PublicImportRecord): void;
  stop(): void;
}

export function createProgressDisplay(
  stream: NodeJS.WriteStream,
  enabled: boolean,
): ProgressDisplay {
  if (!enabled) {
    return {
      uploading: () => undefined,
      uploaded: () => undefined,
      processing: () => undefined,
      stop: () => undefined,
    };
  }

  let bar: cliProgress.SingleBar | undefined;
  let phase: 'upload' | 'process' | undefined;
  let uploadAttempt = 0;

  function start(
    next: 'upload' | 'process',
    format: string,
    total: number,
    payload: Record<string, string | number>,
  ) {
    bar?.stop();
    bar = new cliProgress.SingleBar(
      { format, stream, hideCursor: true, etaBuffer: 20 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, payload);
    phase = next;
  }

  return {
    uploading({ bytesSent, bytesTotal, attempt }) {
      const payload = {
        sent: formatBytes(bytesSent),
        size: bytesTotal === null ? '?' : formatBytes(bytesTotal),
      };
      if (phase !== 'upload' || attempt !== uploadAttempt) {
        uploadAttempt = attempt;
        start(
          'upload',
          `upload  {bar} {percentage}% | {sent} of {size}` +
            (attempt > 1 ? ` (attempt ${attempt})` : ''),
          bytesTotal ?? 0,
          payload,
        );
      }
      bar?.update(bytesSent, payload);
    },
    uploaded() {
      bar?.stop();
      bar = undefined;
    },
    processing(record) {
      const total = record.progress.bytesTotal ?? record.byteSize;
      const done = isFinalImportState(record.state);
      const payload = {
        records: record.progress.recordsRead,
        rejected: record.progress.recordsRejected,
        phase: done ? record.state : record.progress.phase,
      };
      if (phase !== 'process') {
        start(
          'process',
          'import  {bar} {percentage}% | {records} records, ' +
            '{rejected} rejected | {phase}',
          total,
          payload,
        );
      }
      bar?.update(done ? total : record.progress.bytesRead, payload);
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

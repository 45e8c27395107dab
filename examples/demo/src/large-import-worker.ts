import {
  createExampleHost,
  readExampleConfig,
} from '@erp-import/example-definitions';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';

// The worker of large-import.ts, in a process of its own so that its
// memory is measured alone. It tells its parent its resident set size
// over IPC until the parent says stop.

export interface WorkerReport {
  kind: 'ready' | 'memory' | 'stopped';
  rssBytes: number;
  /** The kernel's high-water mark of the resident set (VmHWM). */
  peakRssBytes: number;
  /** The JavaScript heap in use: what the import itself holds. */
  heapUsedBytes: number;
}

const send = (report: WorkerReport) => process.send?.(report);

const logger = pino(
  { name: 'large-import-worker', level: process.env.LOG_LEVEL ?? 'warn' },
  pino.destination(2),
);
const host = await createExampleHost(readExampleConfig(), logger);
const worker = await host.importer.startWorker({ concurrency: 1 });
send(memory('ready'));

const sampler = setInterval(() => send(memory('memory')), 250);

process.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(sampler);
  void (async () => {
    await worker.stop();
    await host.close();
    send(memory('stopped'));
    process.disconnect?.();
  })();
});

function memory(kind: WorkerReport['kind']): WorkerReport {
  const { rss: rssBytes, heapUsed: heapUsedBytes } = process.memoryUsage();
  return {
    kind,
    rssBytes,
    peakRssBytes: kernelPeak() ?? rssBytes,
    heapUsedBytes,
  };
}

function kernelPeak(): number | undefined {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    // Not Linux: the sampled rss is all there is.
    return undefined;
  }
}

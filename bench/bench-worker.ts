import { createPgAdapters } from '@erp-import/adapter-pg';
import { createImporter, type Logger } from '@erp-import/core';
import { readFileSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { benchCustomers } from './bench-definition.js';

// The bench's worker, in a process of its own so that its memory is
// measured alone. It reports each finished import's timings (from the
// engine's log line) and, on request, its peak resident memory since the
// last reset, over IPC.

export type ToBenchWorker =
  { kind: 'reset' } | { kind: 'peak' } | { kind: 'stop' };

export type FromBenchWorker =
  | { kind: 'ready'; rssBytes: number }
  | { kind: 'reset' }
  | { kind: 'peak'; rssBytes: number; cpuMs: number }
  | { kind: 'finished'; importId: string; timings: ImportTimings };

export interface ImportTimings {
  copyMs: number;
  mergeMs: number;
  parseMs?: number;
}

const send = (message: FromBenchWorker) => process.send?.(message);

// The engine's logs: timings go to the bench, trouble to stderr.
function benchLogger(bindings: Record<string, unknown>): Logger {
  const log =
    (level: string) =>
    (first: Record<string, unknown> | string, message?: string) => {
      const fields = typeof first === 'string' ? {} : first;
      const text = typeof first === 'string' ? first : message;
      if (text === 'import finished' && fields.timings) {
        send({
          kind: 'finished',
          importId: String(bindings.importId),
          timings: fields.timings as ImportTimings,
        });
      }
      if (level === 'warn' || level === 'error') {
        console.error(`[worker ${level}] ${text}`, { ...bindings, ...fields });
      }
    };
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (more) => benchLogger({ ...bindings, ...more }),
  };
}

const logger = benchLogger({});
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: 4,
});
const adapters = await createPgAdapters({
  pool,
  logger,
  queue: { pollIntervalSeconds: 0.5 },
});
const importer = createImporter({
  definitions: [benchCustomers],
  database: pool,
  queue: adapters.queue,
  statusStore: adapters.statusStore,
  errorLog: adapters.errorLog,
  fileStore: adapters.fileStore,
  logger,
  // The bench's --parse-thread=never reads in the worker's own thread.
  ...(process.env.BENCH_PARSE_THREAD === 'never' && {
    parseThreadMinBytes: Infinity,
  }),
});
const worker = await importer.startWorker({ concurrency: 1 });

// Sampled too, in case the kernel's high-water mark cannot be reset.
let sampledPeak = 0;
const sampler = setInterval(() => {
  sampledPeak = Math.max(sampledPeak, process.memoryUsage().rss);
}, 50);

process.on('message', (message: ToBenchWorker) => {
  switch (message.kind) {
    case 'reset':
      resetPeak();
      send({ kind: 'reset' });
      break;
    case 'peak':
      send({ kind: 'peak', rssBytes: peakRss(), cpuMs: cpuMsSinceReset() });
      break;
    case 'stop':
      clearInterval(sampler);
      void (async () => {
        await worker.stop();
        await adapters.close();
        await pool.end();
        process.disconnect?.();
      })();
      break;
  }
});
// Settled: what the worker holds before any import.
setTimeout(
  () => send({ kind: 'ready', rssBytes: process.memoryUsage().rss }),
  1000,
);

let canReset = true;
let cpuAtReset = process.cpuUsage();
function cpuMsSinceReset(): number {
  const used = process.cpuUsage(cpuAtReset);
  return (used.user + used.system) / 1000;
}

function resetPeak(): void {
  cpuAtReset = process.cpuUsage();
  sampledPeak = process.memoryUsage().rss;
  try {
    // Linux: writing 5 resets the VmHWM of this process.
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    canReset = false;
  }
}

function peakRss(): number {
  if (!canReset) return sampledPeak;
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? sampledPeak : Number(kb) * 1024;
  } catch {
    return sampledPeak;
  }
}

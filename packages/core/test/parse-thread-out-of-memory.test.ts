import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { threadFailure } from '../src/engine/parse-thread-protocol.js';

// A parse thread that ran out of heap failed its import as "the parse
// thread stopped: Worker terminated due to reaching memory limit", an
// INTERNAL error that said nothing of the file. It now says that the
// thread ran out of memory, after how many records, and that nothing
// was applied, with a machine-readable reason.

/** The `error` a real thread past its heap ceiling emits. */
function outOfMemoryError(): Promise<Error> {
  // Many small arrays: the allocation V8 ends the thread alone for.
  const code = `
    const kept = [];
    for (;;) kept.push(new Array(10_000).fill(kept.length));
  `;
  const worker = new Worker(code, {
    eval: true,
    resourceLimits: { maxOldGenerationSizeMb: 16 },
  });
  return new Promise((resolve, reject) => {
    worker.once('error', resolve);
    worker.once('exit', (exitCode) =>
      reject(new Error(`the thread exited (${exitCode}) without an error`)),
    );
  });
}

describe('a parse thread out of memory', () => {
  it('fails the import with a reason that names the memory', async () => {
    const failure = threadFailure(await outOfMemoryError(), 64, 1234);
    expect(failure.code).toBe('INTERNAL');
    expect(failure.message).toBe(
      'the parse thread ran out of memory (its heap is capped at 64 MB) ' +
        'after 1234 record(s): the file holds more at once than the ' +
        "thread can, within the readers' limits; nothing was applied",
    );
    expect(failure.details).toEqual({
      reason: 'out_of_memory',
      heapMb: 64,
      recordsRead: 1234,
    });
  }, 60_000);

  it('reports any other crash as the thread stopping', () => {
    const failure = threadFailure(new Error('boom'), 64, 0);
    expect(failure.code).toBe('INTERNAL');
    expect(failure.message).toBe('the parse thread stopped: boom');
  });
});

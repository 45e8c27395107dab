import type { PgClientLike } from './pg-client.js';

/**
 * The COPY buffers of encoded rows, handed back to their producer (a
 * parse thread, through `EncodedRows.release`) once nothing here holds
 * them. Left to the collector, a sent buffer stayed in memory until this
 * thread's next collection, which comes rarely, since this thread makes
 * little garbage: up to 35 MB of them at a time, a sixth of the worker's
 * peak on the bench.
 *
 * A buffer is free once the socket has written it and `SentLines` no
 * longer keeps it (it names a refused value's record from it). The COPY
 * stream calls back as soon as the socket takes a write, not once it has
 * written it, so buffers go back only when every stream between the
 * loader and the server is empty (`idle`): no write of them can then be
 * pending. Once a COPY has ended, the server has had all of it.
 */
export interface BufferReturns {
  /** A buffer handed to the open COPY, in the order they are sent. */
  track(text: string | Uint8Array, release: (() => void) | undefined): void;
  /**
   * Returns the buffers sent before the ones `kept` still holds, when
   * the streams are `idle`. Cheap when nothing is tracked: it runs once
   * per row when rows are encoded in this thread.
   */
  settle(
    idle: () => boolean,
    kept: (text: string | Uint8Array) => boolean,
  ): void;
  /** The COPY ended: the server has every buffer. */
  releaseAll(): void;
  /** The COPY failed: buffers are left to the collector. */
  forget(): void;
}

export function createBufferReturns(): BufferReturns {
  let sent: Array<{ text: string | Uint8Array; release: () => void }> = [];
  return {
    track(text, release) {
      if (release !== undefined) sent.push({ text, release });
    },
    settle(idle, kept) {
      if (sent.length === 0 || !idle()) return;
      let index = 0;
      while (index < sent.length && !kept(sent[index]!.text)) {
        sent[index]!.release();
        index++;
      }
      if (index > 0) sent = sent.slice(index);
    },
    releaseAll() {
      for (const buffer of sent) buffer.release();
      sent = [];
    },
    forget() {
      sent = [];
    },
  };
}

/**
 * How many bytes the client's socket still has to write, or undefined
 * when the client does not show its socket (`pg` keeps it at
 * `connection.stream`): its buffers then go back only when a COPY ends.
 */
export function socketBacklog(client: PgClientLike): number | undefined {
  const stream = (client as { connection?: { stream?: unknown } }).connection
    ?.stream as { writableLength?: unknown } | undefined;
  const backlog = stream?.writableLength;
  return typeof backlog === 'number' ? backlog : undefined;
}

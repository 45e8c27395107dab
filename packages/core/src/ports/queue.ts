/**
 * The queue carries "import X is ready" to workers.
 *
 * Promises:
 * - At-least-once delivery: a job is handled until a handler resolves for
 *   it; a job whose worker died is handed to another worker after a
 *   bounded time (`capabilities.redeliveryAfterMs`).
 * - A handler that throws makes the job fail; the queue may retry it, and
 *   says how often in `capabilities.maxAttempts`.
 * - `orderingKey` (tenant and entity): when `capabilities.ordered` is
 *   true, jobs with the same key are handed out one at a time, in enqueue
 *   order. The engine keeps the order itself when it is false.
 * - A job enqueued with `queuedAt` (see `EnqueueOptions`) takes its place
 *   by that moment instead of the end of its key's line.
 *
 * Leaves out: connections (the adapter owns them) and the import record:
 * a job holds only ids, and the status store is the truth.
 */
export interface ImportQueue {
  readonly capabilities: QueueCapabilities;
  enqueue(job: ImportJob, options?: EnqueueOptions): Promise<void>;
  /** Starts handing jobs to `handler`; resolves once it is consuming. */
  consume(handler: JobHandler, options: ConsumeOptions): Promise<QueueConsumer>;
  /**
   * Optional capability: of `jobs`, the import ids this queue holds a job
   * for that a worker is still to run or is running (waiting, retrying,
   * running). A job whose handler resolved, or that failed its last
   * attempt, is not held. The engine asks it about imports left `queued`
   * for a while, to find those whose job never reached the queue (the
   * process that created the record died before enqueueing), and
   * enqueues them again. A whole job is passed so that a queue can look
   * where its key's jobs are kept.
   */
  findHeldJobs?(jobs: readonly ImportJob[]): Promise<Set<string>>;
  close(): Promise<void>;
}

export interface EnqueueOptions {
  /**
   * For a job enqueued again because the first one never reached the
   * queue: when its import was queued (ISO 8601). An ordered queue hands
   * it out before the jobs of its key enqueued after that moment that no
   * worker has started yet, and after the others, so the import keeps
   * its place in its key's order. A job already started is not undone.
   */
  queuedAt?: string;
}

export interface ImportJob {
  importId: string;
  tenant: string;
  entity: string;
  /** `${tenant}/${entity}`; jobs with one key keep their order. */
  orderingKey: string;
}

export interface JobContext {
  /** 1 on the first delivery. */
  attempt: number;
  /** Aborted when the queue takes the job back (shutdown, lost lock). */
  signal: AbortSignal;
}

export type JobHandler = (job: ImportJob, context: JobContext) => Promise<void>;

export interface ConsumeOptions {
  /** Jobs handled at once by this consumer. */
  concurrency: number;
}

export interface QueueConsumer {
  /** Stops taking jobs and waits for those running to settle. */
  stop(): Promise<void>;
}

export interface QueueCapabilities {
  /** Jobs survive a restart of the process that enqueued them. */
  durable: boolean;
  /** Jobs with one ordering key are handed out in order, one at a time. */
  ordered: boolean;
  /** How long a dead worker's job waits before another takes it. */
  redeliveryAfterMs: number | null;
  maxAttempts: number;
}

import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  ImportJob,
  ImportQueue,
  JobContext,
  JobHandler,
  QueueConsumer,
} from '../ports/queue.js';
import { createLatch, waitFor } from './wait-for.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface QueueFixture {
  queue: ImportQueue;
  /** Closes the queue and drops whatever the fixture created. */
  cleanup(): Promise<void>;
}

export interface QueueConformanceOptions {
  /**
   * How long a test waits for a delivery or a redelivery; 15 s by default.
   * Raise it for a queue that polls slowly or backs off before retrying.
   */
  timeoutMs?: number;
}

interface Delivery {
  job: ImportJob;
  context: JobContext;
}

/**
 * The behaviour every ImportQueue promises (see ports/queue.ts), as a
 * vitest suite. `factory` is called before each test; the suite names its
 * jobs with fresh ids and ignores any other job a shared backend hands it.
 */
export function describeQueueConformance(
  name: string,
  factory: () => Promise<QueueFixture>,
  options: QueueConformanceOptions = {},
): void {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const testTimeout = timeoutMs * 3 + 5_000;

  describe(`ImportQueue conformance: ${name}`, () => {
    let fixture: QueueFixture;
    let queue: ImportQueue;
    let consumers: QueueConsumer[];
    let ours: Set<string>;

    beforeEach(async () => {
      fixture = await factory();
      queue = fixture.queue;
      consumers = [];
      ours = new Set();
    });

    afterEach(async () => {
      await Promise.all(consumers.map((consumer) => consumer.stop()));
      await fixture.cleanup();
    });

    const newJob = (tenant: string, entity = 'items'): ImportJob => {
      const job = {
        importId: randomUUID(),
        tenant,
        entity,
        orderingKey: `${tenant}/${entity}`,
      };
      ours.add(job.importId);
      return job;
    };
    const newTenant = () => `tenant-${randomUUID().slice(0, 8)}`;

    // Runs `handler` for this test's jobs only; others just succeed.
    const consume = async (
      handler: JobHandler,
      concurrency = 1,
    ): Promise<QueueConsumer> => {
      const consumer = await queue.consume(
        async (job, context) => {
          if (ours.has(job.importId)) await handler(job, context);
        },
        { concurrency },
      );
      consumers.push(consumer);
      return consumer;
    };

    const wait = <T>(condition: () => T, description: string) =>
      waitFor(condition, { timeoutMs, description });

    it(
      'delivers a job enqueued before consume(), as it was enqueued',
      async () => {
        const job = newJob(newTenant());
        await queue.enqueue(job);

        const deliveries: Delivery[] = [];
        await consume(async (delivered, context) => {
          deliveries.push({ job: delivered, context });
        });

        await wait(() => deliveries.length === 1, 'the delivery');
        const [delivery] = deliveries;
        expect(delivery?.job).toEqual(job);
        expect(delivery?.context.attempt).toBe(1);
        expect(delivery?.context.signal).toBeInstanceOf(AbortSignal);
      },
      testTimeout,
    );

    it(
      'delivers a job enqueued while consuming',
      async () => {
        const delivered: string[] = [];
        await consume(async (job) => {
          delivered.push(job.importId);
        });

        const job = newJob(newTenant());
        await queue.enqueue(job);
        await wait(() => delivered.includes(job.importId), 'the delivery');
      },
      testTimeout,
    );

    it(
      'does not deliver a job again once its handler resolved',
      async () => {
        const tenant = newTenant();
        const first = newJob(tenant);
        const second = newJob(tenant);
        const delivered: string[] = [];
        await consume(async (job) => {
          delivered.push(job.importId);
        });

        await queue.enqueue(first);
        await wait(() => delivered.includes(first.importId), 'the first job');
        await queue.enqueue(second);
        await wait(() => delivered.includes(second.importId), 'the second job');

        expect(delivered.filter((id) => id === first.importId)).toHaveLength(1);
      },
      testTimeout,
    );

    it(
      'redelivers a job whose handler threw, while attempts remain',
      async (context) => {
        if (queue.capabilities.maxAttempts < 2) {
          context.skip();
          return;
        }
        const job = newJob(newTenant());
        const attempts: number[] = [];
        await consume(async (_job, jobContext) => {
          attempts.push(jobContext.attempt);
          if (attempts.length === 1) throw new Error('the first attempt fails');
        });

        await queue.enqueue(job);
        await wait(() => attempts.length >= 2, 'the redelivery');
        expect(attempts.slice(0, 2)).toEqual([1, 2]);
      },
      testTimeout,
    );

    it(
      'hands one key its jobs one at a time, in enqueue order',
      async (context) => {
        if (!queue.capabilities.ordered) {
          context.skip();
          return;
        }
        const tenant = newTenant();
        const jobs = Array.from({ length: 10 }, () => newJob(tenant));
        for (const job of jobs) await queue.enqueue(job);

        const events: string[] = [];
        await consume(async (job) => {
          events.push(`start ${job.importId}`);
          // Yield a few turns so that an overlapping job would get to start.
          for (let turn = 0; turn < 5; turn += 1) {
            await new Promise((resolve) => setImmediate(resolve));
          }
          events.push(`end ${job.importId}`);
        }, 4);

        await wait(() => events.length === 20, 'all ten jobs');
        const expected = jobs.flatMap((job) => [
          `start ${job.importId}`,
          `end ${job.importId}`,
        ]);
        expect(events).toEqual(expected);
      },
      testTimeout,
    );

    it(
      'runs jobs of different keys at the same time',
      async () => {
        const jobs = [newJob(newTenant()), newJob(newTenant())];
        const started = new Set<string>();
        const finished = new Set<string>();
        const latch = createLatch();
        await consume(async (job) => {
          started.add(job.importId);
          await latch.promise;
          finished.add(job.importId);
        }, 2);

        try {
          for (const job of jobs) await queue.enqueue(job);
          await wait(() => started.size === 2, 'both jobs running at once');
        } finally {
          latch.open();
        }
        await wait(() => finished.size === 2, 'both jobs to finish');
      },
      testTimeout,
    );

    it(
      'stop() waits for the handlers that are running',
      async () => {
        const job = newJob(newTenant());
        const latch = createLatch();
        let started = false;
        let finished = false;
        const consumer = await consume(async () => {
          started = true;
          await latch.promise;
          await new Promise((resolve) => setImmediate(resolve));
          finished = true;
        });

        await queue.enqueue(job);
        await wait(() => started, 'the job to start');
        let finishedWhenStopped: boolean | undefined;
        const stopping = consumer.stop().then(() => {
          finishedWhenStopped = finished;
        });
        await new Promise((resolve) => setImmediate(resolve));
        latch.open();
        await stopping;

        expect(finishedWhenStopped).toBe(true);
      },
      testTimeout,
    );

    it(
      'a stopped consumer takes no more jobs; the next consumer gets them',
      async () => {
        const byFirst: string[] = [];
        const bySecond: string[] = [];
        const first = await consume(async (job) => {
          byFirst.push(job.importId);
        });
        await first.stop();

        const job = newJob(newTenant());
        await queue.enqueue(job);
        await consume(async (delivered) => {
          bySecond.push(delivered.importId);
        });

        await wait(
          () => bySecond.includes(job.importId),
          'the second consumer',
        );
        expect(byFirst).toEqual([]);
      },
      testTimeout,
    );

    it(
      'says which imports it holds a job for, until the handler resolved',
      async (context) => {
        const findHeldJobs = queue.findHeldJobs?.bind(queue);
        if (!findHeldJobs) {
          context.skip();
          return;
        }
        const job = newJob(newTenant());
        const never = newJob(newTenant());
        expect(await findHeldJobs([])).toEqual(new Set());

        await queue.enqueue(job);
        expect(await findHeldJobs([job, never])).toEqual(
          new Set([job.importId]),
        );

        const latch = createLatch();
        let started = false;
        await consume(async () => {
          started = true;
          await latch.promise;
        });
        await wait(() => started, 'the job to start');
        expect(await findHeldJobs([job])).toEqual(new Set([job.importId]));

        latch.open();
        await wait(
          async () => (await findHeldJobs([job])).size === 0,
          'the job to be let go once its handler resolved',
        );
      },
      testTimeout,
    );

    it(
      'no longer holds a job whose last attempt failed',
      async (context) => {
        const findHeldJobs = queue.findHeldJobs?.bind(queue);
        if (!findHeldJobs) {
          context.skip();
          return;
        }
        const job = newJob(newTenant());
        let attempts = 0;
        await consume(async () => {
          attempts += 1;
          throw new Error('every attempt fails');
        });

        await queue.enqueue(job);
        await wait(
          async () =>
            attempts >= queue.capabilities.maxAttempts &&
            (await findHeldJobs([job])).size === 0,
          'the last attempt to fail and the job to be let go',
        );
      },
      testTimeout,
    );

    it(
      'places a job enqueued with queuedAt among the waiting jobs of its key',
      async (context) => {
        if (!queue.capabilities.ordered) {
          context.skip();
          return;
        }
        const tenant = newTenant();
        const running = newJob(tenant);
        const first = newJob(tenant);
        const last = newJob(tenant);
        const lostEarly = newJob(tenant);
        const lostBetween = newJob(tenant);
        const delivered: string[] = [];
        const latch = createLatch();
        await consume(async (job) => {
          delivered.push(job.importId);
          if (job.importId === running.importId) await latch.promise;
        });

        try {
          await queue.enqueue(running);
          await wait(() => delivered.length === 1, 'the first job to start');
          await queue.enqueue(first);
          await pause(50);
          const between = new Date().toISOString();
          await pause(50);
          await queue.enqueue(last);
          // Lost jobs come back: one queued between the waiting two, one
          // before every job of the key, the running one included.
          await queue.enqueue(lostBetween, { queuedAt: between });
          await queue.enqueue(lostEarly, {
            queuedAt: new Date(Date.now() - 60_000).toISOString(),
          });
        } finally {
          latch.open();
        }

        await wait(() => delivered.length === 5, 'all five jobs');
        expect(delivered).toEqual(
          [running, lostEarly, first, lostBetween, last].map(
            (job) => job.importId,
          ),
        );
      },
      testTimeout,
    );

    it(
      'hands out a job enqueued with an early queuedAt before the waiting jobs of its key',
      async (context) => {
        if (!queue.capabilities.ordered) {
          context.skip();
          return;
        }
        const tenant = newTenant();
        const first = newJob(tenant);
        const second = newJob(tenant);
        const lost = newJob(tenant);
        await queue.enqueue(first);
        await queue.enqueue(second);
        await queue.enqueue(lost, {
          queuedAt: new Date(Date.now() - 60_000).toISOString(),
        });

        const delivered: string[] = [];
        await consume(async (job) => {
          delivered.push(job.importId);
        });
        await wait(() => delivered.length === 3, 'all three jobs');
        expect(delivered).toEqual(
          [lost, first, second].map((job) => job.importId),
        );
      },
      testTimeout,
    );

    it(
      'delivers every job of many keys, each key in order',
      async () => {
        const tenants = Array.from({ length: 4 }, newTenant);
        const jobs = Array.from({ length: 20 }, (_, index) =>
          newJob(tenants[index % tenants.length] ?? 'tenant'),
        );
        for (const job of jobs) await queue.enqueue(job);

        const delivered: ImportJob[] = [];
        await consume(async (job) => {
          delivered.push(job);
        }, 3);

        const ids = () => new Set(delivered.map((job) => job.importId));
        await wait(() => ids().size === jobs.length, 'all twenty jobs');
        if (queue.capabilities.ordered) {
          for (const tenant of tenants) {
            const sent = jobs.filter((job) => job.tenant === tenant);
            const got = delivered.filter((job) => job.tenant === tenant);
            expect(got.map((job) => job.importId)).toEqual(
              sent.map((job) => job.importId),
            );
          }
        }
      },
      testTimeout,
    );
  });
}

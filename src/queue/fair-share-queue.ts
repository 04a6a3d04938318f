// Plugs the fair-share policy into p-queue through its `queueClass` seam: p-queue keeps concurrency (engine
// slots), pausing and task bookkeeping; the scheduler decides which waiting task runs next. p-queue constructs the
// queue class itself without arguments, so the class is made per scheduler by a factory.
import type { QueueAddOptions } from 'p-queue';
import type { FairShareScheduler, PendingJob } from './scheduler.js';

type RunFunction = () => Promise<unknown>;

export interface FairShareAddOptions extends QueueAddOptions {
  /** The job's scheduling snapshot; `id` must equal the p-queue task id. */
  job: PendingJob;
}

export type FairShareEntry = PendingJob & { run: RunFunction };

export interface FairShareQueueClass {
  new (): {
    readonly size: number;
    enqueue(run: RunFunction, options?: Partial<FairShareAddOptions>): void;
    dequeue(): RunFunction | undefined;
    filter(options: Readonly<Partial<FairShareAddOptions>>): RunFunction[];
    setPriority(id: string, priority: number): void;
    remove(id: string): void;
  };
}

/** An instance of the class made by fairShareQueueClass(); the first type argument of PQueue. */
export type FairShareQueue = InstanceType<FairShareQueueClass>;

export function fairShareQueueClass(
  scheduler: FairShareScheduler<FairShareEntry>,
  now: () => number = Date.now,
): FairShareQueueClass {
  return class FairShareQueue {
    get size(): number {
      return scheduler.size;
    }

    enqueue(run: RunFunction, options?: Partial<FairShareAddOptions>): void {
      if (options?.job === undefined) throw new TypeError('FairShareQueue needs the job snapshot in the add() options');
      scheduler.enqueue({ ...options.job, run });
    }

    dequeue(): RunFunction | undefined {
      return scheduler.next(now())?.run;
    }

    filter(options: Readonly<Partial<FairShareAddOptions>>): RunFunction[] {
      if (options.id === undefined) return scheduler.order(now()).map((entry) => entry.run);
      const entry = scheduler.get(options.id);
      return entry === undefined ? [] : [entry.run];
    }

    /** p-queue's priority maps onto the one reordering the policy allows: any positive priority moves to the front. */
    setPriority(id: string, priority: number): void {
      if (priority > 0) scheduler.promote(id, now());
    }

    remove(id: string): void {
      scheduler.remove(id);
    }
  };
}

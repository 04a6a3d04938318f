// Records service events and waits for one to happen, without sleeps.
import type { ServiceEvent } from '../../src/core/events.js';
import type { VideoService } from '../../src/core/service.js';

export class EventRecorder {
  readonly events: ServiceEvent[] = [];
  readonly #waiters = new Set<{ match: (e: ServiceEvent) => boolean; resolve: (e: ServiceEvent) => void }>();
  readonly unsubscribe: () => void;

  constructor(service: VideoService, options: { replay?: boolean } = {}) {
    this.unsubscribe = service.subscribe((event) => {
      this.events.push(event);
      for (const waiter of this.#waiters) {
        if (waiter.match(event)) {
          this.#waiters.delete(waiter);
          waiter.resolve(event);
        }
      }
    }, options);
  }

  /** The first recorded or future event matching `match`. */
  waitFor<E extends ServiceEvent>(match: (e: ServiceEvent) => e is E, timeoutMs?: number): Promise<E>;
  waitFor(match: (e: ServiceEvent) => boolean, timeoutMs?: number): Promise<ServiceEvent>;
  waitFor(match: (e: ServiceEvent) => boolean, timeoutMs = 15_000): Promise<ServiceEvent> {
    const seen = this.events.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return this.next(match, timeoutMs);
  }

  /** The next event matching `match`, ignoring those already recorded. */
  next(match: (e: ServiceEvent) => boolean, timeoutMs = 15_000): Promise<ServiceEvent> {
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (e: ServiceEvent) => (clearTimeout(timer), resolve(e)) };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`no matching event within ${timeoutMs} ms; saw: ${this.events.map(describe).join(', ')}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Event types for one job, in order. */
  typesFor(jobId: string): string[] {
    return this.events.filter((e) => e.type !== 'engine' && e.job.id === jobId).map((e) => e.type);
  }
}

export function describe(event: ServiceEvent): string {
  return event.type === 'engine' ? `engine(${event.status.ready})` : `${event.type}(${event.job.params.prompt})`;
}

/** Matches a job event of `type` for job `jobId`. */
export function jobEvent<T extends ServiceEvent['type']>(type: T, jobId: string) {
  return (e: ServiceEvent): e is Extract<ServiceEvent, { type: T }> => e.type === type && e.type !== 'engine' && e.job.id === jobId;
}

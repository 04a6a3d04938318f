// Job lifecycle events, published by the service and the worker, consumed by chat adapters and the dashboard.
// Every event carries the full job (with its reply context), so a subscriber needs no state of its own to update
// the right thread, also for jobs that come back after a restart.
import type { EngineStatus } from './ports.js';
import type { Actor, Job } from './jobs.js';

export type JobEvent =
  /**
   * A job entered the queue. `position` 1 runs next; `etaSeconds` is until the video should be done, null while
   * the engine is unavailable. `replay` marks snapshots sent to a new subscriber (see VideoService.subscribe).
   */
  | { type: 'queued'; job: Job; position: number; etaSeconds: number | null; replay?: boolean }
  /** A waiting job's place in line changed. */
  | { type: 'position'; job: Job; position: number; etaSeconds: number | null }
  | { type: 'started'; job: Job; replay?: boolean }
  | { type: 'progress'; job: Job; step: number; totalSteps: number; etaMs: number | null }
  | { type: 'succeeded'; job: Job }
  | { type: 'failed'; job: Job; error: { code: string; message: string } }
  | { type: 'cancelled'; job: Job; actor: Actor }
  /** A job that was running went back to the queue: the process restarted, or it was drained at shutdown. */
  | { type: 'requeued'; job: Job; reason: 'restart' | 'shutdown' };

export type ServiceEvent = JobEvent | { type: 'engine'; status: EngineStatus };

export type EventListener = (event: ServiceEvent) => void | Promise<void>;

/**
 * A small synchronous pub/sub. A throwing or rejecting listener is reported through `onListenerError` and never
 * affects the publisher or the other listeners.
 */
export class EventBus {
  readonly #listeners = new Set<EventListener>();

  constructor(private readonly onListenerError: (error: unknown, event: ServiceEvent) => void = () => {}) {}

  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: ServiceEvent): void {
    for (const listener of this.#listeners) {
      try {
        const result = listener(event);
        if (result instanceof Promise) result.catch((error: unknown) => this.onListenerError(error, event));
      } catch (error) {
        this.onListenerError(error, event);
      }
    }
  }
}

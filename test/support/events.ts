// Records service events and waits for one to happen, without sleeps.
import type { ServiceEvent } from '../../src/core/events.js';
import type { VideoService } from '../../src/service/video-service.js';
import { Recorder } from '../fakes/recorder.js';

export class EventRecorder extends Recorder<ServiceEvent> {
  readonly unsubscribe: () => void;

  /**
   * Records `service`'s events from now on; without a service, what is pushed (a listener given to startService
   * pushes from the very first event, including those of recovery at the start).
   */
  constructor(service?: VideoService, options: { replay?: boolean } = {}) {
    super(describeEvent, { timeoutMs: 15_000 });
    this.unsubscribe = service === undefined ? () => undefined : service.subscribe((event) => this.push(event), options);
  }

  /** Every event recorded so far. */
  get events(): ServiceEvent[] {
    return this.items;
  }

  /** Event types for one job, in order. */
  typesFor(jobId: string): string[] {
    return this.events.filter((e) => e.type !== 'engine' && e.job.id === jobId).map((e) => e.type);
  }
}

function describeEvent(event: ServiceEvent): string {
  return event.type === 'engine' ? `engine(${event.status.ready})` : `${event.type}(${event.job.params.prompt})`;
}

/** Matches a job event of `type` for job `jobId`. */
export function jobEvent<T extends ServiceEvent['type']>(type: T, jobId: string) {
  return (e: ServiceEvent): e is Extract<ServiceEvent, { type: T }> => e.type === type && e.type !== 'engine' && e.job.id === jobId;
}

// Prometheus metrics for /metrics: queue depth and engine state read at scrape time, job outcomes and durations
// counted from service events. One registry per service instance (tests start several in one process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { WorkerStatus } from '../core/queue-snapshot.js';
import type { VideoService } from '../service/video-service.js';

export interface Metrics {
  readonly registry: Registry;
  render(): Promise<string>;
  readonly contentType: string;
  /** Stops listening to events. */
  close(): void;
}

export function createMetrics(service: VideoService): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 't2v_' });

  new Gauge({
    name: 't2v_queue_depth',
    help: 'Jobs waiting in the queue.',
    registers: [registry],
    collect() {
      this.set(service.queueCounts().queued);
    },
  });
  new Gauge({
    name: 't2v_jobs_running',
    help: 'Jobs rendering now.',
    registers: [registry],
    collect() {
      this.set(service.queueCounts().running);
    },
  });
  new Gauge({
    name: 't2v_engine_ready',
    help: '1 when the engine accepts work, 0 while jobs are held in the queue.',
    registers: [registry],
    collect() {
      this.set(service.engineStatus().ready ? 1 : 0);
    },
  });
  // One series per live worker (the processes that render, this one included), read from the queue view.
  const perWorker = (name: string, help: string, value: (worker: WorkerStatus, now: number) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['worker', 'host', 'device'] as const,
      registers: [registry],
      collect() {
        this.reset();
        const now = Date.now();
        for (const worker of service.listQueue().workers) {
          const measured = value(worker, now);
          if (measured !== null) this.set({ worker: worker.name, host: worker.host, device: worker.device }, measured);
        }
      },
    });
  perWorker('t2v_worker_ready', '1 when the worker\'s engine takes jobs.', (worker) => (worker.ready ? 1 : 0));
  perWorker('t2v_worker_slots', 'Jobs the worker renders at once.', (worker) => worker.slots);
  perWorker('t2v_worker_jobs_running', 'Jobs the worker renders now.', (worker) => worker.runningJobIds.length);
  perWorker('t2v_worker_seconds_per_unit', 'Measured render speed (seconds per 256x256 frame-step).', (worker) => worker.secondsPerUnit);
  perWorker('t2v_worker_heartbeat_age_seconds', 'Seconds since the worker last reported.', (worker, now) => Math.max(0, (now - worker.heartbeatAt.getTime()) / 1000));

  const finished = new Counter({
    name: 't2v_jobs_finished_total',
    help: 'Jobs that reached a final state, by status.',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const failures = new Counter({
    name: 't2v_job_failures_total',
    help: 'Failed jobs by error code.',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  const submitted = new Counter({ name: 't2v_jobs_submitted_total', help: 'Jobs accepted into the queue.', registers: [registry] });
  const duration = new Histogram({
    name: 't2v_job_render_seconds',
    help: 'Render time of succeeded jobs (GPU-seconds).',
    buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1200, 3600],
    registers: [registry],
  });
  const wait = new Histogram({
    name: 't2v_job_wait_seconds',
    help: 'Time from submit to start.',
    buckets: [1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200],
    registers: [registry],
  });

  const unsubscribe = service.subscribe((event) => {
    switch (event.type) {
      case 'queued':
        if (event.replay !== true) submitted.inc();
        break;
      case 'started':
        if (event.replay !== true && event.job.startedAt !== null) {
          wait.observe(Math.max(0, (event.job.startedAt.getTime() - event.job.createdAt.getTime()) / 1000));
        }
        break;
      case 'succeeded':
        finished.inc({ status: 'succeeded' });
        if (event.job.gpuSeconds !== null) duration.observe(event.job.gpuSeconds);
        break;
      case 'failed':
        finished.inc({ status: 'failed' });
        failures.inc({ code: event.error.code });
        break;
      case 'cancelled':
        finished.inc({ status: 'cancelled' });
        break;
      default:
        break;
    }
  });

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    close: unsubscribe,
  };
}

// JSON shapes of the HTTP API (pure functions, no I/O). Dates are ISO strings; file paths never leave the server,
// clients get URLs instead.
import type { Job } from '../../core/jobs.js';
import type { QueuedPosition, RunningJob, WorkerStatus } from '../../core/queue-snapshot.js';

export interface JobView {
  id: string;
  status: Job['status'];
  user: { platform: string; id: string; name: string | null; role: string };
  workspaceId: string | null;
  prompt: string;
  negativePrompt: string;
  params: { frames: number; width: number; height: number; steps: number; guidance: number; seed: number; fps: number };
  /** 1 = runs next; 0 when not waiting. */
  position: number;
  /** Seconds until done (waiting or running); null when unknown. */
  etaSeconds: number | null;
  progress: { step: number; totalSteps: number };
  attempts: number;
  estimatedSeconds: number;
  gpuSeconds: number | null;
  error: { code: string; message: string } | null;
  output: { url: string; posterUrl: string | null; mediaType: string; bytes: number } | null;
  reply: Job['reply'];
  parentJobId: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

export function jobView(job: Job, baseUrl: string, place: { position: number; etaSeconds: number | null } = { position: 0, etaSeconds: null }): JobView {
  const { prompt, negativePrompt, ...params } = job.params;
  const jobUrl = `${baseUrl}/api/v1/jobs/${job.id}`;
  return {
    id: job.id,
    status: job.status,
    user: { platform: job.user.platform, id: job.user.platformUserId, name: job.user.displayName, role: job.user.role },
    workspaceId: job.workspaceId,
    prompt,
    negativePrompt,
    params,
    position: place.position,
    etaSeconds: place.etaSeconds,
    progress: { step: job.progress.step, totalSteps: job.progress.totalSteps },
    attempts: job.attempts,
    estimatedSeconds: round1(job.estimatedSeconds),
    gpuSeconds: job.gpuSeconds === null ? null : round1(job.gpuSeconds),
    error: job.error,
    output:
      job.output === null
        ? null
        : {
            url: `${jobUrl}/video`,
            posterUrl: job.output.posterPath === null ? null : `${jobUrl}/poster`,
            mediaType: job.output.mediaType,
            bytes: job.output.bytes,
          },
    reply: job.reply,
    parentJobId: job.parentJobId,
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
  };
}

export function queueView(snapshot: { running: RunningJob[]; queued: QueuedPosition[]; workers: WorkerStatus[] }, baseUrl: string) {
  return {
    running: snapshot.running.map((r) => ({ ...jobView(r.job, baseUrl, { position: 0, etaSeconds: r.etaSeconds }), workerId: r.job.workerId })),
    queued: snapshot.queued.map((q) => jobView(q.job, baseUrl, { position: q.position, etaSeconds: q.etaSeconds })),
    workers: snapshot.workers.map(workerView),
  };
}

/** A rendering process as the API shows it (the dashboard's overview shows the same). */
export function workerView(worker: WorkerStatus) {
  return {
    id: worker.id,
    name: worker.name,
    host: worker.host,
    device: worker.device,
    executionProvider: worker.executionProvider,
    model: worker.model,
    demo: worker.demo,
    slots: worker.slots,
    ready: worker.ready,
    runningJobIds: worker.runningJobIds,
    secondsPerUnit: worker.secondsPerUnit === null ? null : Math.round(worker.secondsPerUnit * 10_000) / 10_000,
    startedAt: worker.startedAt.toISOString(),
    heartbeatAt: worker.heartbeatAt.toISOString(),
  };
}

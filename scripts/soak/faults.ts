// The faults: SIGKILL of a member of the service set at random moments, then a restart. Half of the kills first wait
// until a job is rendering and strike a moment into it (with workers, the worker rendering it), because a kill between
// renders only tests the restart. With workers, half of the workers killed while rendering stay down past their lease
// before they start again: a worker that restarts at once requeues its own job (same host, dead pid), one that stays
// away leaves it to the others' lease check.
import { setTimeout as sleep } from 'node:timers/promises';
import type { SeededRandom } from './random.js';
import type { ServiceSet } from './service-set.js';

/** How long a kill waits for a render to start before striking anyway. */
const RENDER_WAIT_MS = 5_000;
const POLL_MS = 50;
/** A tiny job renders in 50 to 300 ms on the demo model; the kill lands within its first 150 ms. */
const INTO_RENDER_MAX_MS = 150;

export interface Kill {
  /** Seconds since the traffic started. */
  atSeconds: number;
  member: string;
  /** Jobs the service listed as running just before the kill (empty: it struck between renders). */
  running: string[];
  /** Seconds the member stayed down before its restart. */
  downSeconds: number;
}

export interface FaultOptions {
  set: ServiceSet;
  rng: SeededRandom;
  adminToken: string;
  /** Mean seconds between kills (each gap is drawn from half to one and a half of it). */
  meanIntervalSeconds: number;
  /** How long a killed worker that stays away is down: past its lease, so another process takes its job back. */
  workerDownMs: number;
  /** Aborted when the traffic is over: no kill starts after it. */
  signal: AbortSignal;
}

export async function killAtRandom(options: FaultOptions): Promise<Kill[]> {
  const { set, rng, signal } = options;
  const started = performance.now();
  const kills: Kill[] = [];
  for (;;) {
    const gapMs = options.meanIntervalSeconds * 1000 * (0.5 + rng.int(0, 1000) / 1000);
    if (!(await pause(gapMs, signal))) return kills;
    let member = rng.pick(set.killable);
    let running: string[] = [];
    if (rng.chance(0.5)) {
      const rendering = await renderingNow(options, signal);
      running = rendering.map((job) => job.id);
      // With workers, the kill strikes the one rendering (any of them when several are).
      const renderers = set.killable.filter((m) => rendering.some((job) => job.workerName === m.name));
      if (renderers.length > 0) member = rng.pick(renderers);
      if (running.length > 0 && !(await pause(rng.int(0, INTO_RENDER_MAX_MS), signal))) return kills;
    }
    // A worker gone while it renders is what the lease is for; gone between renders it leaves nothing to take back.
    const downMs = set.workers > 0 && running.length > 0 && rng.chance(0.5) ? options.workerDownMs : 0;
    kills.push({ atSeconds: (performance.now() - started) / 1000, member: member.name, running, downSeconds: downMs / 1000 });
    await set.killAndRestart(member, downMs);
  }
}

/** The jobs the service reports running and the workers rendering them, polled until there is one (or RENDER_WAIT_MS passed). */
async function renderingNow({ set, adminToken }: FaultOptions, signal: AbortSignal): Promise<{ id: string; workerName?: string }[]> {
  const deadline = performance.now() + RENDER_WAIT_MS;
  while (performance.now() < deadline && !signal.aborted) {
    try {
      const response = await fetch(`${set.url}/api/v1/queue`, { headers: { authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(2_000) });
      const queue = (await response.json()) as { running?: { id: string; workerId?: string | null }[]; workers?: { id: string; name: string }[] };
      const running = queue.running ?? [];
      if (running.length > 0) return running.map((job) => ({ id: job.id, workerName: queue.workers?.find((w) => w.id === job.workerId)?.name }));
    } catch {
      // Not answering right now: poll again.
    }
    await pause(POLL_MS, signal);
  }
  return [];
}

/** Waits `ms`; false when the signal ended the wait. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

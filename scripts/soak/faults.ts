// The faults: SIGKILL of a member of the service set at random moments, then a restart. Half of the kills first wait
// until a job is rendering and strike a moment into it, because a kill between renders only tests the restart.
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
}

export interface FaultOptions {
  set: ServiceSet;
  rng: SeededRandom;
  adminToken: string;
  /** Mean seconds between kills (each gap is drawn from half to one and a half of it). */
  meanIntervalSeconds: number;
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
    const member = rng.pick(set.killable);
    let running: string[] = [];
    if (rng.chance(0.5)) {
      running = await runningJobs(options, signal);
      if (running.length > 0 && !(await pause(rng.int(0, INTO_RENDER_MAX_MS), signal))) return kills;
    }
    kills.push({ atSeconds: (performance.now() - started) / 1000, member: member.name, running });
    await set.killAndRestart(member);
  }
}

/** The jobs the service reports running, polled until there is one (or RENDER_WAIT_MS passed). */
async function runningJobs({ set, adminToken }: FaultOptions, signal: AbortSignal): Promise<string[]> {
  const deadline = performance.now() + RENDER_WAIT_MS;
  while (performance.now() < deadline && !signal.aborted) {
    try {
      const response = await fetch(`${set.url}/api/v1/queue`, { headers: { authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(2_000) });
      const queue = (await response.json()) as { running?: { id: string }[] };
      const ids = (queue.running ?? []).map((job) => job.id);
      if (ids.length > 0) return ids;
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

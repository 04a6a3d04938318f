// Waits for a condition that something else makes true (a log line, a health state), checking it every 25 ms, and
// fails naming what it waited for when the bound passes, so that a test that goes wrong fails instead of hanging.
import { setTimeout as sleep } from 'node:timers/promises';

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(25);
  }
}

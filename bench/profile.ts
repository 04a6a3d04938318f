// Summary of an ONNX Runtime profile (chrome-trace JSON written by a session with enableProfiling): kernel time
// by operator type and by module. Node names follow the module path (`down_blocks.0.attentions.1/...`), so the
// module column reads like the diffusers module tree.
import { readFile } from 'node:fs/promises';

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

export interface ProfileRow {
  name: string;
  /** Milliseconds per run. */
  ms: number;
  share: number;
}

export interface ProfileSummary {
  /** Kernel milliseconds per run. */
  kernelMs: number;
  byOperator: ProfileRow[];
  byModule: ProfileRow[];
}

/** down_blocks.0.attentions.1.transformer_blocks.0/attn1/... -> down_blocks.0.attentions (per block and kind). */
function moduleOf(node: string): string {
  return node
    .split('/')[0]!
    .replace(/^((?:down|up)_blocks\.\d+|mid_block)\.(\w+)\.\d+.*$/, '$1.$2')
    .replace(/\.transformer_blocks.*$/, '');
}

export async function summarizeProfile(path: string, runs: number, top = 12): Promise<ProfileSummary> {
  const events = JSON.parse(await readFile(path, 'utf8')) as ProfileEvent[];
  const byOperator = new Map<string, number>();
  const byModule = new Map<string, number>();
  let total = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    const module = moduleOf(e.name.slice(0, -'_kernel_time'.length));
    byOperator.set(op, (byOperator.get(op) ?? 0) + e.dur);
    byModule.set(module, (byModule.get(module) ?? 0) + e.dur);
    total += e.dur;
  }
  const rows = (m: Map<string, number>): ProfileRow[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / runs / 1000, share: us / total }));
  return { kernelMs: total / runs / 1000, byOperator: rows(byOperator), byModule: rows(byModule) };
}

/** The summary as indented report lines. */
export function formatProfile(profile: ProfileSummary, title: string): string[] {
  const row = (r: ProfileRow): string => `    ${r.name.padEnd(34)} ${r.ms.toFixed(1).padStart(8)} ms  ${(100 * r.share).toFixed(1).padStart(5)}%`;
  return [`  ${title} kernel time ${profile.kernelMs.toFixed(0)} ms per call; top operators:`, ...profile.byOperator.map(row), '  top modules:', ...profile.byModule.map(row)];
}

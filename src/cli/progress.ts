// One progress bar on stderr for the CLI's long phases (graph build, denoising, decoding, downloads), over
// cli-progress. stdout stays for results, so scripts can read it. Without a terminal (a pipe, a log file) no bar
// is drawn: each phase prints one plain line when it starts.
import cliProgress from 'cli-progress';
import type { EngineLoadProgress } from '../engine/engine.js';

export class PhaseBar {
  readonly #bar: cliProgress.SingleBar | undefined;
  #phase: string | undefined;

  constructor(
    format = ' {phase} |{bar}| {value}/{total} {detail}',
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    if (stream.isTTY) {
      this.#bar = new cliProgress.SingleBar(
        { format, stream, hideCursor: true, clearOnComplete: false, barsize: 30, etaBuffer: 5 },
        cliProgress.Presets.shades_classic,
      );
    }
  }

  /**
   * Shows `value` of `total` in phase `phase`. A new phase name (or `key`, for phases that repeat with another
   * subject) starts a new bar; the same one updates it.
   */
  show(phase: string, value: number, total: number, detail = '', key = phase): void {
    const payload = { phase: phase.padEnd(9), detail };
    if (this.#phase !== key) {
      this.#bar?.stop();
      this.#phase = key;
      if (this.#bar) this.#bar.start(Math.max(total, 1), value, payload);
      else this.stream.write(`${phase} ${detail}\n`);
      return;
    }
    this.#bar?.setTotal(Math.max(total, 1));
    this.#bar?.update(value, payload);
  }

  stop(): void {
    if (this.#phase !== undefined) this.#bar?.stop();
    this.#phase = undefined;
  }
}

export function formatSeconds(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** Model loading on a bar: the demo model's weights, graph builds and writes, cache hits, sessions. */
export function showLoadProgress(bar: PhaseBar, p: EngineLoadProgress): void {
  switch (p.phase) {
    case 'demo':
      bar.show('demo', p.tensorsDone, p.tensorsTotal, `generating the demo model's ${p.component} weights (once)`, `demo ${p.component}`);
      return;
    case 'build':
      bar.show('build', 0, 1, `${p.network}: building the ONNX graph (first use of this model; cached afterwards)`, `build ${p.network}`);
      return;
    case 'write':
      bar.show('build', p.bytesDone, p.bytesTotal, `${p.network}: writing the graph`, `build ${p.network}`);
      return;
    case 'ready':
      if (p.hit) bar.show('load', 1, 1, `${p.network}: graph from the cache`, `load ${p.network}`);
      return;
    case 'session':
      bar.show('load', 1, 1, `${p.network}: ONNX Runtime session`, `session ${p.network}`);
      return;
    case 'verify':
    case 'invalid':
    case 'hash':
      return;
  }
}

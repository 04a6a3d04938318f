// One progress bar on stderr for the CLI's long phases (graph build, denoising, decoding, downloads), over
// cli-progress. stdout stays for results, so scripts can read it. Without a terminal (a pipe, a log file) no bar
// is drawn: each phase prints one plain line when it starts.
import cliProgress from 'cli-progress';

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

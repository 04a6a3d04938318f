// Estimates render time for quota reservations and ETAs. The work of a DDIM render grows with frames x steps x
// pixels, doubled when classifier-free guidance runs the UNet twice per step. A "unit" is one denoising step of
// one 256x256 frame without guidance; the seconds each unit takes are learned from finished jobs (an exponential
// moving average, persisted) and start from ENGINE_SECONDS_PER_UNIT before any job ran.

export interface CostParams {
  frames: number;
  width: number;
  height: number;
  steps: number;
  guidance: number;
}

const UNIT_PIXELS = 256 * 256;
/** Weight of the newest measurement: adapts within a few jobs, one odd job moves it by a third. */
const SMOOTHING = 1 / 3;

export function costUnits(params: CostParams): number {
  const guidancePasses = params.guidance > 1 ? 2 : 1;
  return params.frames * params.steps * ((params.width * params.height) / UNIT_PIXELS) * guidancePasses;
}

export class CostModel {
  #secondsPerUnit: number;
  #measured: boolean;

  constructor(
    secondsPerUnit: number,
    /** Called after each update so the learned speed survives restarts. */
    private readonly persist: (secondsPerUnit: number) => void = () => {},
    /** True when `secondsPerUnit` was learned (kept from earlier runs) rather than assumed. */
    measured = false,
  ) {
    this.#secondsPerUnit = secondsPerUnit;
    this.#measured = measured;
  }

  get secondsPerUnit(): number {
    return this.#secondsPerUnit;
  }

  /** Whether the speed comes from finished renders (this run's or kept from earlier ones). */
  get measured(): boolean {
    return this.#measured;
  }

  estimateSeconds(params: CostParams): number {
    return costUnits(params) * this.#secondsPerUnit;
  }

  /** Learns from a finished render; ignores measurements that cannot be right (zero or non-finite). */
  observe(params: CostParams, seconds: number): void {
    const units = costUnits(params);
    if (!(units > 0) || !(seconds > 0) || !Number.isFinite(seconds)) return;
    this.#secondsPerUnit = this.#measured ? this.#secondsPerUnit * (1 - SMOOTHING) + (seconds / units) * SMOOTHING : seconds / units;
    this.#measured = true;
    this.persist(this.#secondsPerUnit);
  }
}

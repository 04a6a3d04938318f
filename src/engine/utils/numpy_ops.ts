// NumPy's float64 `arange`, `linspace` and `round` as diffusers' schedulers use them to pick
// timesteps (numpy/core/src/multiarray/ctors.c, numpy/core/function_base.py, numpy 1.24). The last
// bits matter there: a value landing on x.5 rounds half to even, and arange's length comes from a
// float division.

/** `np.round(x)`: round half to even. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction < 0.5) return floor;
  if (fraction > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * `np.arange(start, stop, step)` in float64: length ceil((stop - start) / step); element 1 is
 * start + step and later elements start + i·delta with delta = (start + step) - start, as NumPy's fill does.
 */
export function arange(start: number, stop: number, step: number): number[] {
  if (step === 0 || !Number.isFinite(step)) throw new RangeError(`arange step must be finite and non-zero, got ${step}`);
  const length = Math.max(0, Math.ceil((stop - start) / step));
  const delta = start + step - start;
  return Array.from({ length }, (_, i) => (i === 0 ? start : i === 1 ? start + step : start + i * delta));
}

/** `np.linspace(start, stop, num)` (endpoint included): i·step + start, the last element exactly stop. */
export function linspace(start: number, stop: number, num: number): number[] {
  if (!Number.isInteger(num) || num < 0) throw new RangeError(`linspace num must be a non-negative integer, got ${num}`);
  const div = num - 1;
  const delta = stop - start;
  const values = Array.from({ length: num }, (_, i) => (div > 0 ? i * (delta / div) : i * delta) + start);
  if (num > 1) values[num - 1] = stop;
  return values;
}

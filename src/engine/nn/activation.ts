// Parameter-free activations (torch.nn.SiLU, GELU, transformers' quick_gelu) and diffusers' `get_activation`.
import type { Ops, Value } from '../onnx/graph_builder.js';

export type ActivationName = 'silu' | 'swish' | 'gelu' | 'quick_gelu';

/** x * sigmoid(x): com.microsoft.QuickGelu with alpha 1 is exactly SiLU and runs as one pass on CPU and CUDA. */
export function silu(o: Ops, x: Value): Value {
  return o.quickGelu(x, 1, 'SiLU');
}

/** Exact (erf) GELU, torch's default `approximate="none"`. */
export function gelu(o: Ops, x: Value): Value {
  return o.gelu(x, 'GELU');
}

/** transformers' QuickGELUActivation: x * sigmoid(1.702 x). */
export function quickGelu(o: Ops, x: Value): Value {
  return o.quickGelu(x, 1.702, 'QuickGELU');
}

/** diffusers `get_activation` / transformers `ACT2FN` for the names the supported configs use. */
export function activation(name: string): (o: Ops, x: Value) => Value {
  switch (name) {
    case 'silu':
    case 'swish':
      return silu;
    case 'gelu':
      return gelu;
    case 'quick_gelu':
      return quickGelu;
    default:
      throw new Error(`unsupported activation function ${JSON.stringify(name)} (supported: silu, swish, gelu, quick_gelu)`);
  }
}

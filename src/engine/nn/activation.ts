// Parameter-free activations (torch.nn.SiLU, GELU, Mish, ReLU, transformers' quick_gelu) and the name lookups of
// diffusers' `get_activation` and transformers' `ACT2FN`.
import type { Ops, Value } from '../onnx/graph_builder.js';

/** diffusers' ACTIVATION_FUNCTIONS keys. */
export const DIFFUSERS_ACTIVATIONS = ['swish', 'silu', 'mish', 'gelu', 'relu'] as const;

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

/** x * tanh(softplus(x)) (ONNX Mish, opset 18). */
export function mish(o: Ops, x: Value): Value {
  return o.unary('Mish', x, 'Mish');
}

export function relu(o: Ops, x: Value): Value {
  return o.unary('Relu', x, 'ReLU');
}

/** diffusers `get_activation` and transformers `ACT2FN`, for the names these models use. */
export function activation(name: string): (o: Ops, x: Value) => Value {
  switch (name) {
    case 'silu':
    case 'swish':
      return silu;
    case 'gelu':
      return gelu;
    case 'mish':
      return mish;
    case 'relu':
      return relu;
    case 'quick_gelu':
      return quickGelu;
    default:
      throw new Error(`unsupported activation function ${JSON.stringify(name)} (supported: ${[...DIFFUSERS_ACTIVATIONS, 'quick_gelu'].join(', ')})`);
  }
}

// torch.nn.functional.scaled_dot_product_attention on [N, S, heads * head_dim] tensors, as one fused
// com.microsoft.MultiHeadAttention node (CPU and CUDA kernels; softmax in float32 on both, as PyTorch's fused
// kernels do for fp16): no [N, heads, Sq, Sk] score tensor in the graph and no head split/merge transposes.
import type { Ops, Value } from '../onnx/graph_builder.js';

/**
 * softmax(q k^T * scale + bias) v per head. q [N, Sq, heads*dq], k [N, Sk, heads*dq], v [N, Sk, heads*dv]
 * -> [N, Sq, heads*dv]. `attentionBias` broadcasts as [1 or N, 1 or heads, Sq, Sk].
 */
export function scaledDotProductAttention(o: Ops, q: Value, k: Value, v: Value, numHeads: number, scale: number, attentionBias?: Value): Value {
  return o.multiHeadAttention(q, k, v, numHeads, scale, attentionBias, 'sdpa'); // [N, Sq, heads*dv]
}

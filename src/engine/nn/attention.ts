// torch.nn.functional.scaled_dot_product_attention on [N, S, heads * head_dim] tensors, as one fused
// com.microsoft.MultiHeadAttention node (CPU and CUDA kernels; softmax in float32 on both, as PyTorch's fused
// kernels do for fp16): no [N, heads, Sq, Sk] score tensor in the graph and no head split/merge transposes.
import type { Ops, ShapePart, Value } from '../onnx/graph_builder.js';
import type { Linear } from './linear.js';
import type { BuildContext } from './module.js';

/** The query, key and value projections of an attention layer. */
export interface QKVProjections {
  q: Linear;
  k: Linear;
  v: Linear;
}

export interface RowAttention {
  /**
   * The leading dims of the [sequences, length, heads*head_dim] views attention runs on: `[n, -1]` for n
   * sequences or `[-1, s]` for sequences of length s. Query and key rows are grouped the same way.
   */
  sequences: readonly ShapePart[];
  heads: number;
  scale: number;
  /** Added to the scores; broadcasts as [1 or N, 1 or heads, Sq, Sk]. */
  bias?: Value;
}

/**
 * softmax(q k^T * scale + bias) v per head and sequence, on token rows: query rows [Tq, Dq] and key/value rows
 * [Tk, Dk] -> [Tq, heads*head_dim]. Rows stay 2-D around the projections (see nn/linear.ts), so each
 * projection's output is viewed as sequences for attention and the result viewed as rows again.
 */
export function attendRows(ctx: BuildContext, o: Ops, proj: QKVProjections, queryRows: Value, kvRows: Value, a: RowAttention): Value {
  const inner = proj.q.outFeatures;
  const q = o.reshape(proj.q.forward(ctx, queryRows), [...a.sequences, inner], 'q_sequences'); // [N, Sq, inner]
  const k = o.reshape(proj.k.forward(ctx, kvRows), [...a.sequences, inner], 'k_sequences'); // [N, Sk, inner]
  const v = o.reshape(proj.v.forward(ctx, kvRows), [...a.sequences, inner], 'v_sequences'); // [N, Sk, inner]
  const attended = o.multiHeadAttention(q, k, v, a.heads, a.scale, a.bias, 'sdpa'); // [N, Sq, inner]
  return o.reshape(attended, [-1, inner], 'rows'); // [Tq, inner]
}

// torch.nn.Embedding: a Gather over the rows of the weight.
import type { Value } from '../onnx/graph_builder.js';
import type { VarBuilder, WeightRef } from '../weights/var_builder.js';
import { type BuildContext, Module } from './module.js';

export class Embedding extends Module {
  readonly weight: WeightRef;

  constructor(vb: VarBuilder, numEmbeddings: number, embeddingDim: number) {
    super(vb);
    this.weight = vb.get([numEmbeddings, embeddingDim], 'weight');
  }

  /** int64 ids [...] -> [..., dim] */
  forward(ctx: BuildContext, ids: Value): Value {
    return ctx.ops(this.path).gather(ctx.param(this.weight), ids); // [..., dim]
  }
}

// Mirrors diffusers src/diffusers/models/resnet.py (diffusers==0.26.3): ResnetBlock2D (time_embedding_norm
// "default", no up/down sampling inside the block) and TemporalConvLayer.
import { activation } from '../nn/activation.js';
import { Conv2d, Conv3d } from '../nn/conv.js';
import { Linear } from '../nn/linear.js';
import { type BuildContext, Module } from '../nn/module.js';
import { GroupNorm } from '../nn/normalization.js';
import type { Value } from '../onnx/graph_builder.js';
import type { VarBuilder } from '../weights/var_builder.js';

export interface ResnetBlock2DOptions {
  inChannels: number;
  outChannels?: number;
  /** Width of the time embedding; undefined for blocks without one (the VAE). */
  tembChannels?: number;
  groups?: number;
  groupsOut?: number;
  eps?: number;
  nonLinearity?: string;
  outputScaleFactor?: number;
  convShortcutBias?: boolean;
}

export class ResnetBlock2D extends Module {
  readonly norm1: GroupNorm;
  readonly conv1: Conv2d;
  readonly time_emb_proj: Linear | undefined;
  readonly norm2: GroupNorm;
  // dropout: Dropout (inference no-op)
  readonly conv2: Conv2d;
  readonly conv_shortcut: Conv2d | undefined;
  private readonly nonlinearity: ReturnType<typeof activation>;
  private readonly outputScaleFactor: number;

  constructor(vb: VarBuilder, o: ResnetBlock2DOptions) {
    super(vb);
    const out = o.outChannels ?? o.inChannels;
    const groups = o.groups ?? 32;
    const eps = o.eps ?? 1e-6;
    this.norm1 = new GroupNorm(vb.pp('norm1'), groups, o.inChannels, eps);
    this.conv1 = new Conv2d(vb.pp('conv1'), o.inChannels, out, 3, { padding: 1 });
    this.time_emb_proj = o.tembChannels === undefined ? undefined : new Linear(vb.pp('time_emb_proj'), o.tembChannels, out);
    this.norm2 = new GroupNorm(vb.pp('norm2'), o.groupsOut ?? groups, out, eps);
    this.conv2 = new Conv2d(vb.pp('conv2'), out, out, 3, { padding: 1 });
    this.conv_shortcut = o.inChannels === out ? undefined : new Conv2d(vb.pp('conv_shortcut'), o.inChannels, out, 1, { bias: o.convShortcutBias ?? true });
    this.nonlinearity = activation(o.nonLinearity ?? 'swish');
    this.outputScaleFactor = o.outputScaleFactor ?? 1;
  }

  /** x [N, in, H, W], temb [N, tembChannels] -> [N, out, H, W] */
  forward(ctx: BuildContext, inputTensor: Value, temb?: Value): Value {
    const o = ctx.ops(this.path);
    const act = o.child('nonlinearity');
    let h = this.nonlinearity(act, this.norm1.forward(ctx, inputTensor)); // [N, in, H, W]
    h = this.conv1.forward(ctx, h); // [N, out, H, W]
    if (this.time_emb_proj && temb) {
      const t = this.time_emb_proj.forward(ctx, this.nonlinearity(act, temb)); // [N, out]
      h = o.add(h, o.unsqueeze(t, [2, 3]), 'add_temb'); // [N, out, H, W]
    }
    h = this.nonlinearity(act, this.norm2.forward(ctx, h)); // [N, out, H, W]
    h = this.conv2.forward(ctx, h); // [N, out, H, W]
    const shortcut = this.conv_shortcut ? this.conv_shortcut.forward(ctx, inputTensor) : inputTensor; // [N, out, H, W]
    let out = o.add(shortcut, h, 'residual'); // [N, out, H, W]
    if (this.outputScaleFactor !== 1) out = o.div(out, o.scalar(this.outputScaleFactor, ctx.dtype), 'output_scale'); // [N, out, H, W]
    return out;
  }
}

// One stage of TemporalConvLayer: the nn.Sequential whose indices are the weight keys,
//   conv1      = Sequential{0: GroupNorm, /* 1: SiLU */ 2: Conv3d}
//   conv2..4   = Sequential{0: GroupNorm, /* 1: SiLU, 2: Dropout (inference no-op) */ 3: Conv3d}
class TemporalConvStage extends Module {
  readonly norm: GroupNorm;
  readonly conv: Conv3d;

  constructor(vb: VarBuilder, inDim: number, outDim: number, normNumGroups: number, convIndex: 2 | 3) {
    super(vb);
    this.norm = new GroupNorm(vb.pp(0), normNumGroups, inDim);
    this.conv = new Conv3d(vb.pp(convIndex), inDim, outDim, [3, 1, 1], [1, 0, 0]);
  }

  /** [B, in, F, H*W] -> [B, out, F, H*W] */
  forward(ctx: BuildContext, x: Value): Value {
    const h = this.norm.forward(ctx, x); // [B, in, F, HW]
    return this.conv.forwardDepthOnly(ctx, activation('silu')(ctx.ops(this.path).child(1), h)); // [B, out, F, HW]
  }
}

/**
 * Temporal convolutions over each video's frames (ModelScope's 4-stage residual block). GroupNorm statistics
 * span all frames of a video; Conv3d kernels (3, 1, 1) with zero padding in time, run on the [B, C, F, H*W]
 * view (see Conv3d.forwardDepthOnly).
 */
export class TemporalConvLayer extends Module {
  readonly conv1: TemporalConvStage;
  readonly conv2: TemporalConvStage;
  readonly conv3: TemporalConvStage;
  readonly conv4: TemporalConvStage;

  constructor(
    vb: VarBuilder,
    readonly inDim: number,
    outDim?: number,
    normNumGroups = 32,
  ) {
    super(vb);
    const out = outDim ?? inDim;
    this.conv1 = new TemporalConvStage(vb.pp('conv1'), inDim, out, normNumGroups, 2);
    this.conv2 = new TemporalConvStage(vb.pp('conv2'), out, inDim, normNumGroups, 3);
    this.conv3 = new TemporalConvStage(vb.pp('conv3'), out, inDim, normNumGroups, 3);
    this.conv4 = new TemporalConvStage(vb.pp('conv4'), out, inDim, normNumGroups, 3);
  }

  /** [B*F, C, H, W] -> [B*F, C, H, W]; `numFrames` is a 1-element int64 tensor. */
  forward(ctx: BuildContext, hiddenStates: Value, numFrames: Value): Value {
    const o = ctx.ops(this.path);
    const C = this.inDim;
    const flat = o.reshape(hiddenStates, [0, C, -1], 'flat'); // [BF, C, HW]
    const frames = o.reshape(flat, o.shapeOf([-1, numFrames, C, o.dim(flat, 2, 'hw')]), 'frames'); // [B, F, C, HW]
    const identity = o.transpose(frames, [0, 2, 1, 3], 'to_video'); // [B, C, F, HW]
    let h = this.conv1.forward(ctx, identity); // [B, C, F, HW]
    h = this.conv2.forward(ctx, h); // [B, C, F, HW]
    h = this.conv3.forward(ctx, h); // [B, C, F, HW]
    h = this.conv4.forward(ctx, h); // [B, C, F, HW]
    h = o.add(identity, h, 'residual'); // [B, C, F, HW]
    return o.reshape(o.transpose(h, [0, 2, 1, 3], 'to_frames'), o.shape(hiddenStates)); // [BF, C, H, W]
  }
}

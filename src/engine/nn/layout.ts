// Images as token rows and back. Linear layers and attention work on 2-D rows [tokens, channels] (see
// nn/linear.ts), so the spatial attention paths view [N, C, H, W] as one row per pixel and restore it after.
import type { Ops, ShapePart, Value } from '../onnx/graph_builder.js';

/** [N, C, H, W] -> rows [N*H*W, C], each image's pixels in row-major order. */
export function imageRows(o: Ops, x: Value, channels: number, label: string): Value {
  return o.reshape(o.transpose(o.reshape(x, [0, channels, -1]), [0, 2, 1], 'to_tokens'), [-1, channels], label); // [N*HW, C]
}

/** The inverse of `imageRows`: rows [N*H*W, C] of `images` images -> [N, C, H, W] shaped like `like`. */
export function rowsToImage(o: Ops, rows: Value, images: ShapePart, channels: number, like: Value): Value {
  return o.reshape(o.transpose(o.reshape(rows, [images, -1, channels], 'tokens'), [0, 2, 1], 'to_spatial'), o.shape(like)); // [N, C, H, W]
}

// TemporalConvLayer's checkpoint keys: nn.Sequential indices count the parameter-free layers, so the Conv3d is
// index 2 in conv1 (GroupNorm, SiLU, Conv3d) but index 3 in conv2..conv4 (GroupNorm, SiLU, Dropout, Conv3d).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResnetBlock2D, TemporalConvLayer } from '../../../src/engine/models/resnet.js';
import { VarBuilder } from '../../../src/engine/weights/var_builder.js';

test('TemporalConvLayer asks for conv1.2 and conv2.3/conv3.3/conv4.3', () => {
  const vb = VarBuilder.placeholder();
  new TemporalConvLayer(vb.pp('temp_convs').pp(0), 64, 64, 32);
  assert.deepEqual(Object.fromEntries(vb.usedKeys()), {
    'temp_convs.0.conv1.0.weight': [64],
    'temp_convs.0.conv1.0.bias': [64],
    'temp_convs.0.conv1.2.weight': [64, 64, 3, 1, 1],
    'temp_convs.0.conv1.2.bias': [64],
    'temp_convs.0.conv2.0.weight': [64],
    'temp_convs.0.conv2.0.bias': [64],
    'temp_convs.0.conv2.3.weight': [64, 64, 3, 1, 1],
    'temp_convs.0.conv2.3.bias': [64],
    'temp_convs.0.conv3.0.weight': [64],
    'temp_convs.0.conv3.0.bias': [64],
    'temp_convs.0.conv3.3.weight': [64, 64, 3, 1, 1],
    'temp_convs.0.conv3.3.bias': [64],
    'temp_convs.0.conv4.0.weight': [64],
    'temp_convs.0.conv4.0.bias': [64],
    'temp_convs.0.conv4.3.weight': [64, 64, 3, 1, 1],
    'temp_convs.0.conv4.3.bias': [64],
  });
});

test('ResnetBlock2D adds conv_shortcut only when channels change', () => {
  const same = VarBuilder.placeholder();
  new ResnetBlock2D(same, { inChannels: 32, outChannels: 32, tembChannels: 128, groups: 8 });
  assert.ok(![...same.usedKeys().keys()].some((k) => k.startsWith('conv_shortcut')));
  const wider = VarBuilder.placeholder();
  new ResnetBlock2D(wider, { inChannels: 32, outChannels: 48, tembChannels: 128, groups: 8 });
  assert.deepEqual(wider.usedKeys().get('conv_shortcut.weight'), [48, 32, 1, 1]);
  assert.deepEqual(wider.usedKeys().get('time_emb_proj.weight'), [48, 128]);
});

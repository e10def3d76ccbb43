import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { initBackend } from '../../src/engine/backend.js';
import { Critic } from '../../src/nn/critic.js';
import { saveModel } from '../../src/nn/serialize-node.js';
import { runCliAsync } from '../helpers/cli.js';
import { tempDir } from '../helpers/images.js';

const tmp = tempDir('otsr-export-cli-');
after(tmp.cleanup);

test('otsr export writes an ONNX model that ONNX Runtime runs at any size', async () => {
  const out = path.join(tmp.dir, 'map x4.onnx');
  const r = await runCliAsync(['export', 'models/unpaired-x4', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^edsr x4, \d+ parameters -> .*map x4\.onnx \(.* MB, ONNX opset 17, NCHW RGB float32 in \[0, 1\]\)\n$/);
  const session = await ort.InferenceSession.create(out);
  const { output } = await session.run({ input: new ort.Tensor('float32', new Float32Array(3 * 9 * 11).fill(0.25), [1, 3, 9, 11]) });
  assert.deepEqual(output!.dims, [1, 3, 36, 44]);
  await session.release();
});

test('otsr export of a potential (not an image map) fails in one line and writes nothing', async () => {
  await initBackend('cpu');
  const critic = new Critic({ size: 16, nFeats: 4 });
  const dir = path.join(tmp.dir, 'critic');
  await saveModel(dir, critic);
  critic.dispose();
  const out = path.join(tmp.dir, 'critic.onnx');
  const r = await runCliAsync(['export', dir, '-o', out]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'otsr: export: a critic is not an image map; ONNX export supports edsr, unet\n');
  assert.equal(existsSync(out), false);
});

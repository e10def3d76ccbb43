import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { initBackend } from '../../src/engine/backend.js';
import { upsampleBicubic } from '../../src/image/resize-tensor.js';
import { Edsr } from '../../src/nn/edsr.js';
import { saveModel } from '../../src/nn/serialize-node.js';
import { runCliAsync } from '../helpers/cli.js';
import { tempDir } from '../helpers/images.js';
import { nearestPlusModel } from '../helpers/onnx.js';

// What a user sees running otsr's models on ONNX Runtime and bringing their own .onnx models to upscale and eval.

const tmp = tempDir('otsr-onnx-cli-');
after(tmp.cleanup);
const at = (...p: string[]) => path.join(tmp.dir, ...p);
const photo = new URL('../fixtures/photos/path.jpg', import.meta.url).pathname;
const common = ['--tile', '16', '--overlap', '4'];

before(async () => {
  await initBackend('cpu');
  const edsr = new Edsr({ nResBlocks: 1, nFeats: 4, scale: 2, skip: 'upsample', upsampler: upsampleBicubic, seed: 1 });
  await saveModel(at('model'), edsr, { scale: 2 });
  edsr.dispose();
  // A paired set: HR crops of a real photo, LR their 2x bicubic reductions.
  mkdirSync(at('hr'));
  mkdirSync(at('lr'));
  for (const [k, left] of [0, 50].entries()) {
    const hr = sharp(photo).extract({ left, top: 20, width: 48, height: 40 });
    await hr.clone().png().toFile(at('hr', `p${k}.png`));
    await hr.clone().resize(24, 20, { kernel: 'cubic' }).png().toFile(at('lr', `p${k}.png`));
  }
  writeFileSync(at('nearest.onnx'), nearestPlusModel({ scale: 2, add: 0 }));
});

async function pixels(file: string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

test('otsr upscale --engine onnx writes the --engine tfjs image (to a grey level) atomically', async () => {
  const input = at('lr', 'p0.png');
  const [a, b] = await Promise.all([
    runCliAsync(['upscale', input, '-o', at('tfjs.png'), '--model', at('model'), '--engine', 'tfjs', ...common]),
    runCliAsync(['upscale', input, '-o', at('onnx.png'), '--model', at('model'), '--engine', 'onnx', '--workers', '2', ...common]),
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /1 image\(s\) upscaled x2 -> /);
  const [pa, pb] = await Promise.all([pixels(at('tfjs.png')), pixels(at('onnx.png'))]);
  assert.deepEqual([pb.width, pb.height], [48, 40]);
  assert.ok(pa.data.every((v, i) => Math.abs(v - pb.data[i]!) <= 1));
  assert.deepEqual(readdirSync(tmp.dir).filter((n) => n.endsWith('.tmp')), []);
});

test('otsr upscale and otsr eval take a foreign .onnx model with --onnx-range, beside bicubic', async () => {
  const up = await runCliAsync(['upscale', at('lr', 'p1.png'), '-o', at('nearest.png'), '--model', at('nearest.onnx'), '--onnx-range', '255', ...common]);
  assert.equal(up.code, 0, up.stderr);
  assert.deepEqual([(await pixels(at('nearest.png'))).width], [48]);
  const evalOf = async (model: string, ...extra: string[]) => {
    const r = await runCliAsync(['eval', '--model', model, ...extra, '--lr', at('lr'), '--hr', at('hr'), '--no-fid', '--json', ...common]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { model: string; scale: number; psnr: number; images: number };
  };
  const [nearest, bicubic] = await Promise.all([evalOf(at('nearest.onnx'), '--onnx-range', '255'), evalOf('bicubic', '--scale', '2')]);
  assert.equal(nearest.model, at('nearest.onnx'));
  assert.equal(nearest.scale, 2);
  assert.equal(nearest.images, 2);
  assert.ok(Number.isFinite(nearest.psnr) && nearest.psnr > 15, `nearest ${nearest.psnr} dB`);
  // Upscaling a bicubic reduction, bicubic beats nearest neighbour.
  assert.ok(bicubic.psnr > nearest.psnr, `bicubic ${bicubic.psnr} dB, nearest ${nearest.psnr} dB`);
});

test('ONNX mix-ups are one line and a non-zero exit', async () => {
  writeFileSync(at('junk.onnx'), 'junk');
  const cases: [string[], number, RegExp][] = [
    [['--model', 'bicubic', '--engine', 'onnx'], 2, /^otsr: bicubic runs on TF\.js only/],
    [['--model', at('model'), '--onnx-range', '255'], 2, /^otsr: --onnx-range is for \.onnx models/],
    [['--model', at('junk.onnx')], 1, /^otsr: .*junk\.onnx: is not an ONNX model ONNX Runtime can load/],
  ];
  for (const [args, code, message] of cases) {
    const r = await runCliAsync(['upscale', at('lr', 'p0.png'), '-o', at('never.png'), ...args]);
    assert.equal(r.code, code, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

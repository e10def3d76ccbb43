import assert from 'node:assert/strict';
import { mkdirSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { initBackend } from '../../src/engine/backend.js';
import { upsampleBicubic } from '../../src/image/resize-tensor.js';
import { Edsr } from '../../src/nn/edsr.js';
import { saveModel } from '../../src/nn/serialize-node.js';
import { runCliAsync } from '../helpers/cli.js';
import { tempDir, writePng } from '../helpers/images.js';
import { STACK_TRACE } from '../helpers/odd-files.js';

// A model.json is data from anyone: its weight shards are read only from inside its own folder (links resolved), and
// a refusal says nothing about the file it pointed at (not even whether it exists, nor its size).

const tmp = tempDir('otsr-model-paths-');
after(tmp.cleanup);
const at = (...p: string[]) => path.join(tmp.dir, ...p);
const secret = at('secret.bin');
let input: string;

before(async () => {
  writeFileSync(secret, Buffer.alloc(1234, 7));
  input = await writePng(at('in.png'), 8, 8);
});

/** A layers model.json listing `paths` as the shards of a 40-byte weight. */
function layersModel(dir: string, paths: string[]): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'model.json');
  writeFileSync(
    file,
    JSON.stringify({
      format: 'layers-model',
      modelTopology: { class_name: 'Model', config: { layers: [] } },
      weightsManifest: [{ paths, weights: [{ name: 'w', shape: [10], dtype: 'float32' }] }],
    }),
  );
  return file;
}

async function assertRefused(model: string, problem: RegExp): Promise<void> {
  const r = await runCliAsync(['upscale', input, '-o', at('out.png'), '--model', model]);
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, STACK_TRACE);
  assert.match(r.stderr, problem);
  // The path as model.json spells it may be quoted, but nothing learnt from the file system.
  assert.doesNotMatch(r.stderr, /1234|bytes|no such|permission/, 'nothing about the target');
}

test('layers models and UpscalerJS packages: shard paths out of the folder are refused before anything is opened', async () => {
  const rel = path.relative(at('evil'), secret);
  await assertRefused(layersModel(at('evil'), [rel]), /shard path .* leaves the model folder; refused/);
  await assertRefused(layersModel(at('evil abs'), [secret]), /leaves the model folder/);
  await assertRefused(layersModel(at('evil etc'), ['../../../../../../etc/passwd']), /leaves the model folder/);
  // A shard that is a link to elsewhere.
  const linked = at('linked');
  layersModel(linked, ['group1-shard1of1.bin']);
  symlinkSync(secret, path.join(linked, 'group1-shard1of1.bin'));
  await assertRefused(path.join(linked, 'model.json'), /shard path "group1-shard1of1\.bin" leaves the model folder/);
  // The same loader reads packages.
  const pkg = at('package');
  mkdirSync(pkg);
  writeFileSync(path.join(pkg, 'package.json'), '{"name": "evil-model"}');
  layersModel(path.join(pkg, 'models', 'x4'), ['../../../secret.bin']);
  await assertRefused(pkg, /leaves the model folder/);
});

test('otsr model folders: a weight shard that is a link out of the folder is refused', async () => {
  await initBackend('cpu');
  const dir = at('otsr model');
  const edsr = new Edsr({ nResBlocks: 1, nFeats: 4, scale: 2, skip: 'upsample', upsampler: upsampleBicubic, seed: 1 });
  await saveModel(dir, edsr, { scale: 2 });
  edsr.dispose();
  const shard = path.join(dir, 'group1-shard1of1.bin');
  // Same size as the real shard, so only the link gives it away.
  writeFileSync(secret, Buffer.alloc(statSync(shard).size, 0));
  renameSync(shard, at('real-shard.bin'));
  symlinkSync(secret, shard);
  const r = await runCliAsync(['upscale', input, '-o', at('out.png'), '--model', dir]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /group1-shard1of1\.bin: is a link to a file outside the model folder; refused/);
  assert.doesNotMatch(r.stderr, /secret/);
});

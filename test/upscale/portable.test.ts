import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';

// src/upscale and src/metrics also run in the browser: no Node built-ins, no Node-only packages, except in
// the Node halves named *-node.ts (as src/nn/serialize-node.ts): files and folders, model folders.
test('src/upscale and src/metrics import nothing Node-only', () => {
  for (const dir of ['upscale', 'metrics']) {
    const root = new URL(`../../src/${dir}/`, import.meta.url);
    for (const file of readdirSync(root).filter((f) => f.endsWith('.ts') && !f.endsWith('-node.ts'))) {
      const text = readFileSync(new URL(file, root), 'utf8');
      const imports = [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!);
      for (const spec of imports) {
        const ok = spec.startsWith('.') || spec === '@tensorflow/tfjs-core' || spec === 'nsfwjs/models/inception_v3';
        assert.ok(ok, `src/${dir}/${file} imports ${spec}`);
      }
      assert.ok(!/\b(process|Buffer|require)\b[.(]/.test(text), `src/${dir}/${file} uses a Node global`);
    }
  }
});

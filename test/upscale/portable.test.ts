import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';

// src/upscale and src/metrics also run in the browser: no Node built-ins, no Node-only packages, except in the
// modules that exist to read and write files (named *-node.ts).
const NODE_SIDE = (file: string) => file.endsWith('-node.ts');

test('src/upscale and src/metrics import nothing Node-only (but their Node-side modules)', () => {
  for (const dir of ['upscale', 'metrics']) {
    const root = new URL(`../../src/${dir}/`, import.meta.url);
    for (const file of readdirSync(root).filter((f) => f.endsWith('.ts') && !NODE_SIDE(f))) {
      const text = readFileSync(new URL(file, root), 'utf8');
      const imports = [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!);
      for (const spec of imports) {
        const ok =
          (spec.startsWith('.') && !NODE_SIDE(spec.replace(/\.js$/, '.ts').split('/').pop()!)) ||
          ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', 'nsfwjs/models/inception_v3', 'nsfwjs/models/mobilenet_v2'].includes(spec);
        assert.ok(ok, `src/${dir}/${file} imports ${spec}`);
      }
      assert.ok(!/\b(process|Buffer|require)\b[.(]/.test(text), `src/${dir}/${file} uses a Node global`);
    }
  }
});

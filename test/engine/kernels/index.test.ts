import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WASM_KERNEL_CONFIGS } from '../../../src/engine/kernels/index.js';
import { WASM_TRAINING_KERNELS } from '../../../src/engine/wasm-kernels.js';

test('the registration list holds one wasm config per kernel name that wasm-kernels.ts exports', () => {
  const names = WASM_KERNEL_CONFIGS.map((c) => c.kernelName);
  assert.deepEqual([...names].sort(), [...WASM_TRAINING_KERNELS].sort());
  assert.equal(new Set(names).size, names.length, 'no kernel twice');
  for (const c of WASM_KERNEL_CONFIGS) assert.equal(c.backendName, 'wasm', c.kernelName);
});

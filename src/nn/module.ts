import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../util/rng.js';

/**
 * A network's architecture as plain JSON: enough to rebuild it (`kind` picks the constructor, the rest are
 * its options). Saved in model.json so that Node, the CLI and the browser can load a model.
 */
export interface ArchSpec {
  kind: string;
  [option: string]: unknown;
}

/**
 * Base class of otsr's networks: a pure function of its input plus named variables.
 *
 * otsr does not use tfjs-layers: training needs double backprop (gradient penalties), exact control of
 * every tensor's lifetime and seeded initialisation, which plain ops plus `tf.Variable`s give directly.
 * Parameters are created through {@link Module.param} from a seeded {@link Rng}, so the same seed gives the
 * same weights on every backend.
 */
export abstract class Module {
  /** Parameters by stable name (e.g. `body.3.conv1.w`); the order of insertion is the save order. */
  readonly params = new Map<string, tf.Variable>();

  /** The architecture, as saved in model.json. */
  abstract readonly spec: ArchSpec;

  /** Forward pass. Never disposes `x`; call inside `tf.tidy` or a gradient function. */
  abstract apply(x: tf.Tensor): tf.Tensor;

  /** Trainable variables, in a stable order (for optimizers). */
  trainableVariables(): tf.Variable[] {
    return [...this.params.values()];
  }

  /** Creates and records a parameter. Names must be unique within the module. */
  protected param(name: string, shape: number[], values: Float32Array): tf.Variable {
    if (this.params.has(name)) throw new Error(`duplicate parameter name ${name}`);
    // tf.variable keeps its own reference to the data; the initial tensor must be freed or it leaks.
    const init = tf.tensor(values, shape, 'float32');
    const v = tf.variable(init, true, `${this.spec.kind}/${name}/${nextId++}`);
    init.dispose();
    this.params.set(name, v);
    return v;
  }

  /** Number of scalar parameters. */
  parameterCount(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  /** Copies all parameter values from `other` (same architecture), e.g. to freeze a reference map. */
  copyFrom(other: Module): void {
    for (const [name, v] of this.params) {
      const src = other.params.get(name);
      if (!src) throw new Error(`copyFrom: parameter ${name} missing in source`);
      v.assign(src);
    }
  }

  /** Frees every parameter. The module must not be used afterwards. */
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}

let nextId = 0;

/** He (Kaiming) normal initialisation for a layer with `fanIn` inputs, scaled by `gain`. */
export function heNormal(rng: Rng, size: number, fanIn: number, gain = 1): Float32Array {
  return rng.normals(size, gain * Math.sqrt(2 / fanIn));
}

/** Uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)), PyTorch's default for weights and biases of conv/linear. */
export function torchDefaultUniform(rng: Rng, size: number, fanIn: number): Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (rng.next() * 2 - 1) * bound;
  return out;
}

export function zeros(size: number): Float32Array {
  return new Float32Array(size);
}

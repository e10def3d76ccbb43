import { UsageError } from '../errors.js';
import { Critic, type CriticOptions } from './critic.js';
import { EDSR_SCALES, Edsr, type EdsrOptions, type EdsrScale, type Upsampler } from './edsr.js';
import { Mlp, type MlpOptions } from './mlp.js';
import type { ArchSpec, Module } from './module.js';
import { Unet, type UnetOptions } from './unet.js';

/** What a spec cannot carry: the init seed and functions. */
export interface BuildOptions {
  /** Weight-init seed (default: `spec.seed` if it is a number, else 0). Irrelevant when weights are loaded. */
  seed?: number;
  /** Needed by an EDSR whose spec says `skip: 'upsample'` (e.g. the tensor bicubic upsampler). */
  upsampler?: Upsampler;
}

/** The architectures {@link buildModule} knows. */
export const MODULE_KINDS = ['mlp', 'edsr', 'critic', 'unet'] as const;
export type ModuleKind = (typeof MODULE_KINDS)[number];

/**
 * Builds a freshly initialised module from its JSON architecture (as saved in model.json or given on the
 * command line). Every option is type-checked and unknown options are rejected, so that a typo in an
 * `--arch` value or a file from a newer otsr is reported instead of silently ignored.
 * @throws UsageError naming the kind and the offending option.
 */
export function buildModule(spec: ArchSpec, options: BuildOptions = {}): Module {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new UsageError('arch: expected a JSON object');
  const { kind } = spec;
  const r = new SpecReader(spec);
  const seed = options.seed ?? (typeof spec.seed === 'number' ? spec.seed : 0);
  // Options are all read (and checked) before anything is built, so a bad spec allocates no variables.
  let make: () => Module;
  switch (kind) {
    case 'mlp': {
      if (spec.residual === true && spec.inDim !== spec.outDim) throw new UsageError('arch mlp: residual needs outDim === inDim');
      const o: MlpOptions = {
        inDim: r.int('inDim', 1),
        hidden: r.intArray('hidden', 1),
        outDim: r.int('outDim', 1),
        activation: r.optEnum('activation', ['relu', 'leakyRelu', 'elu', 'softplus'] as const),
        residual: r.optBool('residual'),
        seed,
      };
      make = () => new Mlp(o);
      break;
    }
    case 'edsr': {
      const scale = r.int('scale', 2);
      if (!(EDSR_SCALES as readonly number[]).includes(scale)) {
        throw new UsageError(`arch edsr: scale must be one of ${EDSR_SCALES.join(', ')}, got ${scale}`);
      }
      const o: EdsrOptions = {
        nResBlocks: r.int('nResBlocks', 0),
        nFeats: r.int('nFeats', 1),
        resScale: r.optNumber('resScale'),
        scale: scale as EdsrScale,
        skip: r.optEnum('skip', ['none', 'upsample'] as const),
        upsampler: options.upsampler,
        seed,
      };
      make = () => new Edsr(o);
      break;
    }
    case 'critic': {
      const o: CriticOptions = {
        size: r.int('size', 4),
        nFeats: r.optInt('nFeats', 1),
        maxFeats: r.optInt('maxFeats', 1),
        resRatio: r.optNumber('resRatio'),
        seed,
      };
      make = () => new Critic(o);
      break;
    }
    case 'unet': {
      const o: UnetOptions = {
        inChannels: r.int('inChannels', 1),
        outChannels: r.int('outChannels', 1),
        base: r.int('base', 1),
        depth: r.int('depth', 0),
        residual: r.optBool('residual'),
        seed,
      };
      make = () => new Unet(o);
      break;
    }
    default:
      throw new UsageError(`arch: unknown kind ${JSON.stringify(kind)}; known kinds: ${MODULE_KINDS.join(', ')}`);
  }
  r.rejectUnread();
  return make();
}

/** Reads typed options out of a spec, remembering which keys were used. */
class SpecReader {
  private readonly read = new Set<string>(['kind', 'seed']);
  constructor(private readonly spec: ArchSpec) {}

  private fail(key: string, want: string): never {
    throw new UsageError(`arch ${String(this.spec.kind)}: ${key} must be ${want}, got ${JSON.stringify(this.spec[key])}`);
  }
  private has(key: string): boolean {
    this.read.add(key);
    return this.spec[key] !== undefined;
  }
  int(key: string, min: number): number {
    this.read.add(key);
    const v = this.spec[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) this.fail(key, `an integer >= ${min}`);
    return v;
  }
  optInt(key: string, min: number): number | undefined {
    return this.has(key) ? this.int(key, min) : undefined;
  }
  optNumber(key: string): number | undefined {
    if (!this.has(key)) return undefined;
    const v = this.spec[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, 'a finite number');
    return v;
  }
  optBool(key: string): boolean | undefined {
    if (!this.has(key)) return undefined;
    const v = this.spec[key];
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }
  optEnum<T extends string>(key: string, values: readonly T[]): T | undefined {
    if (!this.has(key)) return undefined;
    const v = this.spec[key];
    if (!values.includes(v as T)) this.fail(key, `one of ${values.join(', ')}`);
    return v as T;
  }
  intArray(key: string, min: number): number[] {
    this.read.add(key);
    const v = this.spec[key];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= min)) {
      this.fail(key, `an array of integers >= ${min}`);
    }
    return v as number[];
  }
  rejectUnread(): void {
    const extra = Object.keys(this.spec).filter((k) => !this.read.has(k));
    if (extra.length > 0) throw new UsageError(`arch ${String(this.spec.kind)}: unknown option(s) ${extra.join(', ')}`);
  }
}

import { UsageError } from '../errors.js';
import { brief, clip } from '../util/brief.js';
import { CRITIC_DEFAULTS, Critic, type CriticOptions } from './critic.js';
import { EDSR_SCALES, EDSR_UPSAMPLINGS, Edsr, type EdsrOptions, type EdsrScale, type Upsampler } from './edsr.js';
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
  return planModule(spec, options).make();
}

/**
 * The number of scalar parameters `buildModule(spec)` would create, computed from the spec alone (nothing
 * is allocated), so that a loader can refuse an absurd architecture before building it.
 * @throws UsageError as buildModule does for an invalid spec.
 */
export function archParamCount(spec: ArchSpec): number {
  return planModule(spec, {}).count();
}

/** 3x3 (or k x k) convolution with bias. */
const convCount = (cin: number, cout: number, k = 3) => k * k * cin * cout + cout;

function planModule(spec: ArchSpec, options: BuildOptions): { make: () => Module; count: () => number } {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new UsageError('arch: expected a JSON object');
  const { kind } = spec;
  const r = new SpecReader(spec);
  const seed = options.seed ?? (typeof spec.seed === 'number' ? spec.seed : 0);
  // Options are all read (and checked) before anything is built, so a bad spec allocates no variables.
  let plan: { make: () => Module; count: () => number };
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
      plan = {
        make: () => new Mlp(o),
        count: () => {
          const widths = [o.inDim, ...o.hidden, o.outDim];
          let n = 0;
          for (let i = 0; i + 1 < widths.length; i++) n += widths[i]! * widths[i + 1]! + widths[i + 1]!;
          return n;
        },
      };
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
        upsampling: r.optEnum('upsampling', EDSR_UPSAMPLINGS),
        upsampler: options.upsampler,
        seed,
      };
      plan = {
        make: () => new Edsr(o),
        count: () => {
          const f = o.nFeats;
          const body = convCount(3, f) + 2 * o.nResBlocks * convCount(f, f) + convCount(f, f);
          if (o.upsampling === 'lr') return body + convCount(f, 3 * scale * scale);
          const factors = scale === 3 ? 1 : Math.log2(scale);
          const ups = factors * convCount(f, o.upsampling === 'resize' ? f : (scale === 3 ? 9 : 4) * f);
          return body + ups + convCount(f, 3);
        },
      };
      break;
    }
    case 'critic': {
      const o: CriticOptions = {
        size: r.int('size', 4),
        nFeats: r.optInt('nFeats', 1),
        maxFeats: r.optInt('maxFeats', 1),
        resRatio: r.optNumber('resRatio'),
        highpass: r.optNumber('highpass'),
        seed,
      };
      plan = {
        make: () => new Critic(o),
        count: () => {
          const { size } = o;
          const nFeats = o.nFeats ?? CRITIC_DEFAULTS.nFeats;
          const maxFeats = o.maxFeats ?? CRITIC_DEFAULTS.maxFeats;
          const block = (fin: number, fout: number) => {
            const hidden = Math.min(fin, fout);
            return convCount(fin, hidden) + convCount(hidden, fout) + (fin !== fout ? fin * fout : 0);
          };
          const nLayers = Math.floor(Math.log2(size / 4));
          let n = convCount(3, nFeats);
          let side = size;
          for (let i = 0; i <= nLayers; i++) {
            if (i > 0) side = Math.floor((side - 1) / 2) + 1;
            const f0 = Math.min(nFeats * 2 ** i, maxFeats);
            const f1 = Math.min(nFeats * 2 ** (i + 1), maxFeats);
            n += block(f0, f0) + block(f0, f1);
          }
          const fcIn = side * side * Math.min(nFeats * 2 ** (nLayers + 1), maxFeats);
          return n + fcIn + 1;
        },
      };
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
      plan = {
        make: () => new Unet(o),
        count: () => {
          const width = (level: number) => o.base * 2 ** level;
          const double = (cin: number, cout: number) => convCount(cin, cout) + convCount(cout, cout);
          let n = 0;
          for (let l = 0; l <= o.depth; l++) n += double(l === 0 ? o.inChannels : width(l - 1), width(l));
          for (let l = o.depth - 1; l >= 0; l--) n += convCount(width(l + 1), 4 * width(l)) + double(2 * width(l), width(l));
          return n + convCount(o.base, o.outChannels, 1);
        },
      };
      break;
    }
    default:
      throw new UsageError(`arch: unknown kind ${brief(kind)}; known kinds: ${MODULE_KINDS.join(', ')}`);
  }
  r.rejectUnread();
  return plan;
}

/** Reads typed options out of a spec, remembering which keys were used. */
class SpecReader {
  private readonly read = new Set<string>(['kind', 'seed']);
  constructor(private readonly spec: ArchSpec) {}

  private fail(key: string, want: string): never {
    throw new UsageError(`arch ${String(this.spec.kind)}: ${key} must be ${want}, got ${brief(this.spec[key])}`);
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
    if (extra.length > 0) throw new UsageError(`arch ${String(this.spec.kind)}: unknown option(s) ${clip(extra.join(', '))}`);
  }
}

import { promises as fs } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import type { Sampler } from '../data/sampler.js';
import { parseDegradation } from '../data/degradation.js';
import { openUnpairedFolders } from '../data/unpaired.js';
import type { BackendName } from '../engine/backend.js';
import { defaultWorkers } from '../engine/parallel/index.js';
import { InputError, OtsrError, UsageError } from '../errors.js';
import { upsampleBicubic } from '../image/resize-tensor.js';
import type { Module } from '../nn/module.js';
import { loadModel, saveModel } from '../nn/serialize-node.js';
import { type SolverState, type StepLosses, disposeSolverState } from '../ot/solver.js';
import { checkWritableFolder, nearestExisting, removeStaleTemps, writeError, writeFileAtomic } from '../util/atomic-write.js';
import { type ProgressEvent, RateMeter } from '../util/progress.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { type TrainConfig, resumeMismatch, validateConfig } from './config.js';
import { JsonlLog } from './log.js';
import { ParallelSolver } from './parallel-solver.js';
import { buildMap, buildNetworks, buildSolver, otTaskOptions } from './run-spec.js';
import { runPaths } from './run-dir.js';
import { solverStateFromCheckpoint, solverStateToCheckpoint } from './solver-checkpoint.js';
import { Validator } from './validate.js';

export interface TrainOptions {
  /** Continue from runs/NAME/checkpoint.otsr (same config except --steps). */
  resume?: boolean;
  onProgress?: (event: ProgressEvent) => void;
  /** Skipped files, checkpoints written, etc.: one line each. */
  onMessage?: (message: string) => void;
  /** Stops after the current step; a checkpoint is saved first. */
  signal?: AbortSignal;
  /** Stops (checkpoint and model saved, as at the end) once this many seconds of this session have passed. */
  timeLimitSeconds?: number;
}

export interface TrainResult {
  runDir: string;
  /** Outer steps completed (the checkpoint's step). */
  steps: number;
  /** done: all steps; time-limit: `timeLimitSeconds` ran out first; cancelled: `signal` fired. */
  status: 'done' | 'time-limit' | 'cancelled';
  /** The exported map (model folder), loadable by `otsr upscale --model`. */
  modelDir: string;
  /** Training seconds, over all sessions of this run. */
  seconds: number;
  /** Worker threads this session trained on (1: in this thread). */
  workers: number;
  lastValidation?: Record<string, number>;
}

interface RunState {
  /** Training seconds before this session (from the checkpoint). */
  secondsBefore: number;
  workers: number;
}

/** `--workers` when not given for a new run: the number of cores, at most 8 and at most the batch size. */
export function defaultTrainWorkers(batch: number): number {
  return Math.max(1, Math.min(defaultWorkers(), batch));
}

/**
 * What the loop needs of a solver: the in-process solver (run-spec.ts' buildSolver) or the {@link ParallelSolver} over worker threads.
 * `syncMap` brings this thread's map up to date before it is used here (samples, validation, export);
 * `syncAverage` copies the map's weight average (`--ema-decay`) into a module, false while there is none.
 */
interface LoopSolver {
  readonly stepCount: number;
  step(): Promise<StepLosses>;
  getState(): Promise<SolverState>;
  syncMap(): Promise<void>;
  syncAverage(into: Module): Promise<boolean>;
  source: Sampler;
}

/**
 * Trains an unpaired super-resolution map with neural OT (or the regularized-GAN baseline) on two folders,
 * writing checkpoints, samples, a JSONL log, the exported model and (via `writeRunReport`) a report into
 * `outDir`. Resumable; cancellable through `signal` (checkpoint first); stops on a non-finite loss keeping
 * the last good checkpoint.
 */
export async function train(config: TrainConfig, outDir: string, options: TrainOptions = {}): Promise<TrainResult> {
  const say = options.onMessage ?? (() => {});
  const paths = runPaths(outDir);
  const hasCheckpoint = await exists(paths.checkpoint);
  if (hasCheckpoint && !options.resume) {
    throw new UsageError(`${outDir} already holds a run (checkpoint.otsr): add --resume to continue it, or choose another --out`);
  }
  if (options.resume && !hasCheckpoint) throw new InputError(paths.checkpoint, 'nothing to resume: no checkpoint in this run folder');
  if (!hasCheckpoint) await checkNewRunFolder(outDir);
  await checkWritableFolder(await nearestExisting(outDir), outDir);
  if (options.resume) {
    const saved = await readSavedConfig(paths.config);
    // Not given: the run continues with the worker count it started with (absent in older runs: 1).
    if (config.workers === undefined) config = { ...config, workers: saved.workers ?? 1 };
    const mismatch = resumeMismatch(saved, config);
    if (mismatch) throw new UsageError(`cannot resume ${outDir}: ${mismatch}`);
  }
  // Recorded in config.json (absent: 1, as runs from before --workers existed).
  config = { ...config, workers: config.workers ?? 1 };
  validateConfig(config);
  const pretrainSteps = config.pretrainSteps ?? 0;
  /**
   * Called once the data, the networks and (on resume) the checkpoint have all been found good: until then nothing
   * is written, so a refused or failed start leaves the folder as it was (a new run's folder is not even created).
   */
  const begin = async () => {
    await fs.mkdir(paths.samples, { recursive: true }).catch((err: unknown) => {
      throw writeError(outDir, err);
    });
    // A run killed (kill -9, power loss) while writing leaves temp files of its atomic writes: tidy them.
    for (const dir of [outDir, paths.samples]) await removeStaleTemps(dir);
    await writeFileAtomic(paths.config, `${JSON.stringify(config, null, 2)}\n`);
  };

  const data = await openUnpairedFolders({
    lr: config.lr,
    hr: config.hr,
    scale: config.scale,
    crop: config.crop,
    seed: config.seed,
    cacheBytes: config.cacheMB * 1024 * 1024,
    ...(config.maxPixels !== undefined ? { maxPixels: config.maxPixels } : {}),
    ...(pretrainSteps > 0 ? { pairs: parseDegradation(config.degradation ?? 'blind') } : {}),
    onWarning: say,
    signal: options.signal,
  });
  // Files whose header is fine but whose data is not (truncated) are only found by decoding them: draw
  // one crop from each side now, so that a folder with nothing decodable is an error before training
  // starts. The draw is undone (setState), and files found bad are skipped later exactly as if they had
  // been found then, so the batches are the same as without this probe.
  for (const sampler of [data.lr, data.hr]) tf.dispose(await withoutAdvancing(sampler, () => sampler.sample(1)));
  const { pairs } = data;
  if (pairs) tf.dispose(Object.values(await withoutAdvancing(pairs, () => pairs.samplePairs(1))));
  const validator = config.valLr && config.valHr ? await Validator.open(config.valLr, config.valHr, config.scale, say, config.maxPixels) : undefined;
  const task = otTaskOptions(config);
  const map = buildMap(task);
  // With --ema-decay, what is validated, sampled and exported: the average, once the solver's steps began (none
  // in a run that only pretrains).
  const averaged = task.emaDecay > 0 && config.steps > pretrainSteps ? buildMap(task) : undefined;
  // On resume the checkpoint holds the weights; a fresh run reads --init now, before anything is written.
  const initWeights = config.init !== undefined && !options.resume ? await readInitWeights(config) : undefined;
  const workers = config.workers!;
  const innerSteps = config.solver === 'ots' ? config.kMap : config.nCritic;
  const log = new JsonlLog(paths.log);
  const run: RunState = { secondsBefore: 0, workers };
  /** Restores the checkpoint into the solver (`setState`), truncating the log after its step. */
  const resume = async (setState: (state: SolverState) => Promise<number>) => {
    const ckpt = await loadCheckpoint(paths.checkpoint);
    const { state, seconds } = solverStateFromCheckpoint(ckpt, paths.checkpoint);
    let step: number;
    try {
      step = await setState(state);
    } finally {
      tf.dispose([...ckpt.tensors.values()]);
    }
    if (step >= config.steps) {
      throw new UsageError(`${outDir} is already done: it is at step ${step} and --steps is ${config.steps}; give a larger --steps to train on`);
    }
    run.secondsBefore = seconds;
    await log.truncateAfter(step);
    say(`resuming ${outDir} at step ${step}`);
  };
  try {
    if (workers > 1) {
      say(`training on ${workers} worker threads`);
      const solver = await ParallelSolver.start(data.lr, data.hr, {
        workers,
        task,
        batchSize: config.batch,
        innerSteps,
        seed: config.seed + 2,
        backend: tf.getBackend() as BackendName,
        ...(data.pairs ? { pairs: data.pairs } : {}),
      });
      try {
        if (options.resume) {
          await resume(async (state) => {
            await solver.setState(state);
            return solver.stepCount;
          });
        }
        if (initWeights) {
          const state = startingFrom(await solver.getState(), initWeights);
          try {
            await solver.setState(state);
          } finally {
            disposeSolverState(state);
          }
        }
        const loopSolver: LoopSolver = {
          get stepCount() {
            return solver.stepCount;
          },
          step: () => solver.step(),
          getState: () => solver.getState(),
          syncMap: () => solver.syncMap(map),
          syncAverage: (into) => solver.syncAverage(into),
          source: data.lr,
        };
        await begin();
        return await loop(config, outDir, loopSolver, { map, averaged }, validator, log, run, options);
      } catch (err) {
        // A worker that failed (e.g. out of wasm memory) reports its stack: keep its first line for the user.
        if (err instanceof Error && !(err instanceof OtsrError) && /^worker \d+[: ]/.test(err.message)) {
          throw new OtsrError(`a training ${err.message.split('\n')[0]!}`);
        }
        throw err;
      } finally {
        await solver.close();
      }
    }
    const nets = buildNetworks(task, map);
    const { potential, cost } = nets;
    // historyLimit 0: the losses go to log.jsonl, so neither memory nor checkpoints grow with the steps.
    const solver = buildSolver(task, nets, { source: data.lr, target: data.hr, ...(data.pairs ? { pairs: data.pairs } : {}) }, {
      batchSize: config.batch,
      innerSteps,
      seed: config.seed + 2,
      historyLimit: 0,
    });
    try {
      if (options.resume) {
        await resume(async (state) => {
          solver.setState(state);
          return solver.stepCount;
        });
      }
      if (initWeights) {
        const state = startingFrom(solver.getState(), initWeights);
        try {
          solver.setState(state);
        } finally {
          disposeSolverState(state);
        }
      }
      const loopSolver: LoopSolver = {
        get stepCount() {
          return solver.stepCount;
        },
        step: () => solver.step(),
        getState: async () => solver.getState(),
        syncMap: async () => {},
        syncAverage: async (into) => solver.averageInto(into),
        source: data.lr,
      };
      await begin();
      return await loop(config, outDir, loopSolver, { map, averaged }, validator, log, run, options);
    } finally {
      solver.dispose();
      cost.dispose();
      potential.dispose();
    }
  } finally {
    map.dispose();
    averaged?.dispose();
    validator?.dispose();
    tf.dispose(Object.values(initWeights ?? {}));
  }
}

/** The weights of the `--init` model, checked against the run's map architecture and scale. */
async function readInitWeights(config: TrainConfig): Promise<Record<string, tf.Tensor>> {
  const dir = config.init!;
  const loaded = await loadModel(dir, { upsampler: (x: tf.Tensor4D, s: number) => upsampleBicubic(x, s) });
  try {
    if (canonicalJson(loaded.arch) !== canonicalJson(config.map)) {
      throw new UsageError(
        `--init ${dir}: its architecture ${canonicalJson(loaded.arch)} is not the run's map ${canonicalJson(config.map)}; omit --arch to take the model's`,
      );
    }
    if (loaded.manifest.scale !== undefined && loaded.manifest.scale !== config.scale) {
      throw new UsageError(`--init ${dir} upscales x${loaded.manifest.scale}, not --scale ${config.scale}`);
    }
    const weights: Record<string, tf.Tensor> = {};
    for (const [name, v] of loaded.module.params) weights[name] = tf.clone(v);
    return weights;
  } finally {
    loaded.module.dispose();
  }
}

/** JSON with sorted keys, so that two specs that differ only in key order compare equal. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

/**
 * A fresh run's state with the map's weights replaced by `weights` (copies) and the cost measuring from them, as
 * if its reference had been refreshed at step 0; the input state's replaced tensors are disposed.
 */
function startingFrom(state: SolverState, weights: Record<string, tf.Tensor>): SolverState {
  const copy = () => Object.fromEntries(Object.entries(weights).map(([name, t]) => [name, tf.clone(t)]));
  for (const name of Object.keys(state.map)) {
    if (!(name in weights)) throw new OtsrError(`the --init model lacks the map weight ${name}`);
  }
  tf.dispose([...Object.values(state.map), ...Object.values(state.cost?.weights ?? {})]);
  return { ...state, map: copy(), cost: { refreshedAt: 0, weights: copy() } };
}

async function loop(
  config: TrainConfig,
  outDir: string,
  solver: LoopSolver,
  maps: { map: Module; averaged: Module | undefined },
  validator: Validator | undefined,
  log: JsonlLog,
  run: RunState,
  options: TrainOptions,
): Promise<TrainResult> {
  const paths = runPaths(outDir);
  const say = options.onMessage ?? (() => {});
  const meter = new RateMeter(config.steps);
  const started = performance.now();
  // With a time budget the run ends at whichever comes first, the last step or the budget: so does the ETA.
  const report = (event: ProgressEvent) => {
    const limit = options.timeLimitSeconds;
    const left = limit === undefined ? Infinity : Math.max(0, limit - (performance.now() - started) / 1000);
    options.onProgress?.(left < event.etaSeconds ? { ...event, etaSeconds: left } : event);
  };
  const elapsed = () => run.secondsBefore + (performance.now() - started) / 1000;
  let lastValidation: Record<string, number> | undefined;
  let savedStep = solver.stepCount;

  const diverged = async (step: number, what: string, value: number) => {
    await log.append({ type: 'event', step, seconds: elapsed(), message: `stopped: ${what} is ${value}` });
    return new OtsrError(
      `training diverged at step ${step} (${what} = ${value}); the last good checkpoint (step ${savedStep}) is kept in ${paths.checkpoint}. Try a lower learning rate.`,
    );
  };
  const checkpoint = async () => {
    const state = await solver.getState();
    try {
      const ckpt = solverStateToCheckpoint(state, elapsed());
      // Huge gradients can overflow Adam's second moment to Infinity while the losses stay finite: such a state
      // is not a good checkpoint to go back to.
      const bad = firstNonFinite(ckpt.tensors);
      if (bad) throw await diverged(solver.stepCount, bad.name, bad.value);
      await saveCheckpoint(paths.checkpoint, ckpt);
    } finally {
      disposeSolverState(state);
    }
    savedStep = solver.stepCount;
  };
  /** The map to validate, sample and export: the weight average once there is one, else the map itself (both brought up to date). */
  const shownMap = async (): Promise<Module> => {
    await solver.syncMap();
    return maps.averaged && (await solver.syncAverage(maps.averaged)) ? maps.averaged : maps.map;
  };
  let sampledStep = -1;
  const samplesAndValidation = async () => {
    const step = solver.stepCount;
    sampledStep = step;
    const map = await shownMap();
    if (validator) {
      lastValidation = await validator.evaluate(map);
      // Beside the average's metrics, the training weights' own: what the average gains (or loses).
      const raw = map === maps.map ? {} : { raw: await validator.evaluate(maps.map) };
      await log.append({ type: 'val', step, seconds: elapsed(), metrics: lastValidation, ...raw });
      await validator.writeGrid(paths.sample(step), map);
    } else {
      // Drawn and undone, so that sample grids never change the training batches (a run stopped and resumed
      // at any step, with grids at other steps, trains exactly as an uninterrupted one).
      const lr = (await withoutAdvancing(solver.source, () => solver.source.sample(Math.min(4, config.batch)))) as tf.Tensor4D;
      try {
        const { writeSampleGrid } = await import('./samples.js');
        await writeSampleGrid(paths.sample(step), lr, config.scale, (x) => map.apply(x) as tf.Tensor4D);
      } finally {
        lr.dispose();
      }
    }
  };

  if (solver.stepCount === 0) {
    // A run always has a whole checkpoint, so even a first step that diverges leaves something to go back to.
    await samplesAndValidation();
    await checkpoint();
  }
  report(meter.update(solver.stepCount));
  let status: TrainResult['status'] = 'done';
  while (solver.stepCount < config.steps) {
    if (options.signal?.aborted) {
      status = 'cancelled';
      break;
    }
    if (options.timeLimitSeconds !== undefined && (performance.now() - started) / 1000 >= options.timeLimitSeconds) {
      status = 'time-limit';
      break;
    }
    const losses = await solver.step();
    const values = lossValues(losses);
    const bad = Object.entries(values).find(([, v]) => !Number.isFinite(v));
    if (bad) throw await diverged(losses.step, bad[0], bad[1]);
    await log.append({ type: 'train', step: losses.step, seconds: elapsed(), losses: values });
    report(meter.update(losses.step, values));
    const step = losses.step;
    if (step % config.sampleEvery === 0 || step === config.steps) await samplesAndValidation();
    if (step % config.checkpointEvery === 0 || step === config.steps) await checkpoint();
  }
  // Stopped early (time limit, Ctrl-C): the run still ends with samples, validation and a checkpoint of where it is.
  if (sampledStep !== solver.stepCount) await samplesAndValidation();
  if (savedStep !== solver.stepCount) await checkpoint();
  if (status === 'cancelled') say(`cancelled: checkpoint saved at step ${solver.stepCount}; continue with --resume`);
  await saveModel(paths.model, await shownMap(), {
    scale: config.scale,
    training: { ...config, steps: solver.stepCount } as unknown as Record<string, unknown>,
  });
  return { runDir: outDir, steps: solver.stepCount, status, modelDir: paths.model, seconds: elapsed(), workers: run.workers, lastValidation };
}

/** `draw()` from a sampler whose state is put back afterwards, so that the draw changes no later batch. */
async function withoutAdvancing<T>(sampler: { getState(): unknown; setState(state: unknown): void }, draw: () => Promise<T>): Promise<T> {
  const state = sampler.getState();
  try {
    return await draw();
  } finally {
    sampler.setState(state);
  }
}

/** The first tensor holding a NaN or an infinity, with one such value (checked on the backend, nothing is copied out). */
function firstNonFinite(tensors: Map<string, tf.Tensor>): { name: string; value: number } | undefined {
  for (const [name, t] of tensors) {
    const ok = tf.tidy(() => tf.all(tf.isFinite(t)).dataSync()[0] === 1);
    if (!ok) {
      const value = tf.tidy(() => (t.dataSync() as Float32Array).find((v) => !Number.isFinite(v)) ?? NaN);
      return { name, value };
    }
  }
  return undefined;
}

function lossValues(l: StepLosses): Record<string, number> {
  if (l.paired !== undefined) return { paired: l.paired };
  const out: Record<string, number> = { map: l.mapLoss, potential: l.potentialLoss, cost: l.cost };
  if (l.gradientPenalty !== undefined) out.gp = l.gradientPenalty;
  return out;
}

/** The config.json a run was started with (read on --resume); one line naming it if it is missing or damaged. */
async function readSavedConfig(file: string): Promise<TrainConfig> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new InputError(file, `cannot read the run's config (${(err as NodeJS.ErrnoException).code ?? String(err)}); it is needed to resume`);
  }
  try {
    const config = JSON.parse(text) as unknown;
    if (config !== null && typeof config === 'object' && !Array.isArray(config)) return config as TrainConfig;
  } catch {
    /* reported below */
  }
  throw new InputError(file, 'is not a valid run config (JSON object); it is needed to resume');
}

/**
 * A new run goes into a folder that is absent or empty: never into one holding someone else's files (its config.json
 * and log.jsonl would be overwritten, and the model refused only after the whole training).
 */
async function checkNewRunFolder(dir: string): Promise<void> {
  const s = await fs.stat(dir).catch((err: unknown) => err as NodeJS.ErrnoException);
  if (s instanceof Error) {
    if (s.code === 'ENOENT') return;
    throw new OtsrError(`${dir}: cannot create the run folder (${s.code ?? s.message})`);
  }
  if (!s.isDirectory()) throw new UsageError(`${dir}: is a file, not a run folder; choose another --out`);
  if ((await fs.readdir(dir)).length > 0) {
    throw new UsageError(`${dir} is not empty and holds no otsr run (no checkpoint.otsr): choose a new or empty folder for --out`);
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

import { Command, Option } from 'commander';
import { initBackend, parseBackendName } from '../../engine/backend.js';
import { DEFAULT_MAX_PIXELS } from '../../image/io.js';
import { COST_RESOLUTIONS, DEFAULT_TRAIN_CONFIG as D, MAP_PRESETS, POTENTIAL_PRESETS, type TrainConfig, resolveArch, validateConfig } from '../../train/config.js';
import { readModelArch } from '../../nn/serialize-node.js';
import { writeRunReport } from '../../train/report.js';
import { defaultTrainWorkers, train } from '../../train/train.js';
import { floatOption, intOption } from '../options.js';
import { formatDuration, progressRenderer } from '../progress-bar.js';
import { interruptSignal } from '../signals.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function trainCommand(): Command {
  return new Command('train')
    .description('Learn an LR -> HR super-resolution map from two unpaired folders (neural OT or the GAN baseline)')
    .requiredOption('--lr <dir>', 'folder of low-resolution images (repeatable)', collect)
    .requiredOption('--hr <dir>', 'folder of unrelated high-resolution images (repeatable)', collect)
    .requiredOption('--out <dir>', 'run folder: checkpoint, log, samples, model, report (e.g. runs/NAME)')
    .option('--scale <s>', 'upscaling factor (2, 3, 4, 8)', intOption('--scale', 2, 8), D.scale)
    .addOption(new Option('--solver <name>', 'ots: neural OT (unbiased); gan: regularized WGAN-GP baseline').choices(['ots', 'gan']).default(D.solver))
    .option('--lambda <l>', 'GAN only: weight of the content cost (0 = plain GAN)', floatOption('--lambda', 0), D.lambda)
    .option('--cost-weight <w>', 'OTS only: weight of the transport cost (the OT map is the same for any weight; a larger one keeps the map near bicubic while the potential is weak)', floatOption('--cost-weight', 0), D.costWeight)
    .addOption(new Option('--cost-resolution <where>', 'where the transport cost compares the map\'s output with its reference: hr, every pixel; lr, averages over scale x scale blocks (only what the LR photo shows is held; finer detail is left to the potential)').choices([...COST_RESOLUTIONS]).default(D.costResolution))
    .option('--steps <n>', 'outer iterations, pretraining steps included; those beyond --pretrain-steps run the solver from the pretrained map (OTS: k map steps + 1 potential step). Default: --pretrain-steps (no OT stage: every one measured made the map worse at CPU budgets, bench/RESULTS.md), or this count without pretraining', intOption('--steps', 1), D.steps)
    .option('--crop <c>', 'HR crop side in pixels (LR crops are c / scale)', intOption('--crop', 8), D.crop)
    .option('--batch <b>', 'images per batch', intOption('--batch', 1), D.batch)
    .option('--arch <preset|json>', `map architecture: ${Object.keys(MAP_PRESETS).join(', ')} or a JSON spec`, 'small')
    .option('--potential <preset|json>', `potential/critic: ${Object.keys(POTENTIAL_PRESETS).join(', ')} or a JSON spec`, 'small')
    .option('--learning-rate <lr>', 'Adam learning rate of the map in the solver\'s steps, and of the potential unless --potential-learning-rate is given', floatOption('--learning-rate', 0), D.learningRate)
    .option('--potential-learning-rate <lr>', 'Adam learning rate of the potential/critic (default: --learning-rate)', floatOption('--potential-learning-rate', 0))
    .option('--k-map <k>', 'OTS: map steps per potential step', intOption('--k-map', 1), D.kMap)
    .option('--potential-penalty <g>', 'OTS: R1 penalty g/2 E|grad f(y)|^2 on the potential at the HR crops, which keeps it smooth so that it pulls the map less abruptly (0: none, the paper\'s)', floatOption('--potential-penalty', 0), D.potentialPenalty)
    .option('--n-critic <n>', 'GAN: critic steps per map step', intOption('--n-critic', 1), D.nCritic)
    .option('--ema-decay <d>', 'validate, sample and export an exponential moving average of the map\'s weights over the solver\'s steps (after pretraining), with this decay per step, e.g. 0.99 (0: the map itself)', floatOption('--ema-decay', 0, 1), D.emaDecay)
    .option('--refresh-every <n>', 'replace the bicubic reference of the cost by a frozen copy of the map every n steps (0: never)', intOption('--refresh-every', 0), D.refreshEvery)
    .option('--pretrain-steps <n>', 'first train the map alone for n steps (10 L1 updates each) on pairs made from the --hr photos by --degradation, then run the solver from it, with it as the cost\'s reference (0: start from bicubic)', intOption('--pretrain-steps', 0), D.pretrainSteps)
    .option('--init <model>', 'start the map from this otsr model folder (e.g. models/unpaired-x4, to adapt it to your folders) instead of a random init; the cost then measures from it, --arch defaults to its architecture and --pretrain-steps to 0')
    .option('--pretrain-learning-rate <lr>', 'Adam learning rate of the pretraining steps', floatOption('--pretrain-learning-rate', 0), D.pretrainLearningRate)
    .addOption(new Option('--pretrain-schedule <name>', 'pretraining learning rate: constant, or cosine (down to 0 at the end of pretraining)').choices(['constant', 'cosine']).default(D.pretrainSchedule))
    .option('--degradation <spec>', 'how pretraining pairs are made from the HR photos: blind (a random blur, noise and JPEG per crop), bicubic, or blur=S,noise=N,jpeg=Q (a known degradation: the supervised oracle)', D.degradation)
    .option('--val-lr <dir>', 'paired validation LR folder (PSNR/SSIM during training)')
    .option('--val-hr <dir>', 'paired validation HR folder')
    .option('--checkpoint-every <n>', 'steps between checkpoints', intOption('--checkpoint-every', 1), D.checkpointEvery)
    .option('--sample-every <n>', 'steps between sample grids (and validation)', intOption('--sample-every', 1), D.sampleEvery)
    .option('--cache-mb <mb>', 'memory budget for decoded training images', intOption('--cache-mb', 16), D.cacheMB)
    .option('--max-pixels <n>', 'skip images with more pixels than this (decompression bombs)', intOption('--max-pixels', 1), DEFAULT_MAX_PIXELS)
    .option('--seed <s>', 'random seed', intOption('--seed', 0), D.seed)
    .option('--minutes <m>', 'stop after this much training time (a checkpoint, samples and the model are still written)', floatOption('--minutes', 0))
    .option('--workers <n>', 'worker threads sharing every batch (identical weights after every step); default: the number of cores, at most 8 and at most --batch; 1 trains in one thread; --resume keeps the run\'s count', intOption('--workers', 1, 64))
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--backend <name>', 'TF.js backend: wasm (default) or cpu', parseBackendName)
    .action(async (o, cmd: Command) => {
      const given = (name: string) => cmd.getOptionValueSource(name) === 'cli';
      // A model to start from brings its own architecture, and is already trained: no pretraining unless asked.
      const map = o.init !== undefined && !given('arch') ? await readModelArch(o.init) : resolveArch(o.arch, MAP_PRESETS, o.scale, '--arch');
      const pretrainSteps = o.init !== undefined && !given('pretrainSteps') ? 0 : o.pretrainSteps;
      // Not given: as long as the pretraining (no OT stage), or the default count when there is none.
      const steps = given('steps') || pretrainSteps === 0 ? o.steps : pretrainSteps;
      const config: TrainConfig = {
        lr: o.lr,
        hr: o.hr,
        scale: o.scale,
        solver: o.solver,
        lambda: o.lambda,
        costWeight: o.costWeight,
        costResolution: o.costResolution,
        steps,
        crop: o.crop,
        batch: o.batch,
        map,
        potential: resolveArch(o.potential, POTENTIAL_PRESETS, o.crop, '--potential'),
        learningRate: o.learningRate,
        ...(o.potentialLearningRate !== undefined ? { potentialLearningRate: o.potentialLearningRate } : {}),
        kMap: o.kMap,
        potentialPenalty: o.potentialPenalty,
        nCritic: o.nCritic,
        emaDecay: o.emaDecay,
        refreshEvery: o.refreshEvery,
        pretrainSteps,
        pretrainLearningRate: o.pretrainLearningRate,
        pretrainSchedule: o.pretrainSchedule,
        degradation: o.degradation,
        ...(o.init !== undefined ? { init: o.init } : {}),
        ...(o.valLr ? { valLr: o.valLr } : {}),
        ...(o.valHr ? { valHr: o.valHr } : {}),
        seed: o.seed,
        checkpointEvery: o.checkpointEvery,
        sampleEvery: o.sampleEvery,
        cacheMB: o.cacheMb,
        ...(o.maxPixels !== DEFAULT_MAX_PIXELS ? { maxPixels: o.maxPixels } : {}),
        // A resumed run keeps its own count unless one is given.
        ...(o.workers !== undefined ? { workers: o.workers } : o.resume ? {} : { workers: defaultTrainWorkers(o.batch) }),
      };
      validateConfig(config); // bad numbers fail before the backend starts
      const backend = await initBackend(o.backend);
      process.stderr.write(`otsr train: ${config.solver}${config.solver === 'gan' ? ` (lambda ${config.lambda})` : ` (cost weight ${config.costWeight ?? 1})`}, x${config.scale}, ${config.steps} steps, backend ${backend}\n`);
      const bar = progressRenderer('train', { unit: 'steps' });
      const interrupt = interruptSignal(() => process.stderr.write('\nstopping after this step (Ctrl-C again to quit now)...\n'));
      try {
        const result = await train(config, o.out, {
          resume: o.resume === true,
          ...(o.minutes !== undefined ? { timeLimitSeconds: o.minutes * 60 } : {}),
          signal: interrupt.signal,
          onProgress: (e) => bar.update(e),
          onMessage: (m) => process.stderr.write(`${m}\n`),
        });
        bar.stop();
        const report = await writeRunReport(o.out);
        const val = result.lastValidation
          ? ` | val PSNR ${result.lastValidation.psnr!.toFixed(2)} dB (bicubic ${result.lastValidation.psnrBicubic!.toFixed(2)}), SSIM ${result.lastValidation.ssim!.toFixed(4)} (bicubic ${result.lastValidation.ssimBicubic!.toFixed(4)})`
          : '';
        process.stdout.write(
          `${result.status === 'done' ? 'trained' : 'stopped'} ${result.steps} steps in ${formatDuration(result.seconds)}${val}\nmodel:  ${result.modelDir}\nreport: ${report}\n`,
        );
      } finally {
        bar.stop();
        interrupt.dispose();
      }
    });
}

export function reportCommand(): Command {
  return new Command('report')
    .description('Write report.html for a training run: config, loss and validation curves, sample grids')
    .argument('<run>', 'run folder (the --out of otsr train)')
    .action(async (run: string) => {
      process.stdout.write(`${await writeRunReport(run)}\n`);
    });
}

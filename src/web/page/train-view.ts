/**
 * The Train tab: two sets of photos in, a small OTS training run with a live loss plot and sample previews,
 * cancel, and the trained map out (a zip of its model folder, its separate files, or straight to Upscale).
 */
import * as tf from '@tensorflow/tfjs-core';
import { CancelledError } from '../../errors.js';
import { fromFloat } from '../../image/pixels.js';
import type { StepLosses } from '../../ot/solver.js';
import { linePlotSvg } from '../../report/svg-plot.js';
import { zipStore } from '../../util/zip.js';
import { WebTrainer } from '../trainer.js';
import { byId, formatSeconds, messageOf, yieldToPage, onDropFiles } from './dom.js';
import { type DecodedSet, decodeSet } from './image-sets.js';
import { fromModule } from './models.js';
import { canvasJpegRoundTrip, download, drawToCanvas } from './pixels.js';
import type { UpscaleView } from './upscale-view.js';

type State = 'idle' | 'decoding' | 'ready' | 'running' | 'done' | 'cancelled' | 'error';

/** Redraw the plot at most this often (ms): an SVG of thousands of points is not free. */
const PLOT_EVERY_MS = 400;

export function setupTrainView(backendName: string, upscale: UpscaleView, showUpscaleTab: () => void): void {
  const section = byId('train');
  const startButton = byId('train-start', HTMLButtonElement);
  const cancelButton = byId('train-cancel', HTMLButtonElement);
  const progress = byId('train-progress', HTMLProgressElement);
  const status = byId('train-status');
  const plot = byId('loss-plot');
  const samples = byId('train-samples');
  const exportZip = byId('train-export', HTMLButtonElement);
  const exportFiles = byId('train-export-files', HTMLButtonElement);
  const useButton = byId('train-use', HTMLButtonElement);
  const num = (id: string) => Number(byId(id, HTMLInputElement).value);

  const sets: { lr?: DecodedSet; hr?: DecodedSet } = {};
  let trainer: WebTrainer | undefined;
  let running: AbortController | undefined;
  let history: StepLosses[] = [];

  const setState = (state: State, message = '', error = false) => {
    section.dataset.state = state;
    status.textContent = message;
    status.classList.toggle('error', error);
    const busy = state === 'running' || state === 'decoding';
    startButton.disabled = busy || !sets.lr?.images.length || !sets.hr?.images.length;
    cancelButton.disabled = state !== 'running';
    const trained = !busy && trainer !== undefined && trainer.stepCount > 0;
    exportZip.disabled = !trained;
    exportFiles.disabled = !trained;
    useButton.disabled = !trained;
  };

  const scaleSelect = byId('train-scale', HTMLSelectElement);
  scaleSelect.addEventListener('change', () => {
    for (const el of document.querySelectorAll('.train-scale')) el.textContent = scaleSelect.value;
  });

  const pickSet = async (which: 'lr' | 'hr', files: File[]) => {
    if (files.length === 0) return;
    const info = byId(`train-${which}-info`);
    setState('decoding', `decoding ${which === 'lr' ? 'low' : 'high'}-resolution images…`);
    try {
      const set = await decodeSet(files, (done, total) => {
        info.textContent = `decoding ${done}/${total}…`;
      });
      sets[which] = set;
      const px = set.images.map((im) => `${im.width}x${im.height}`);
      const sizes = px.length > 0 ? `, ${[...new Set(px)].slice(0, 3).join(', ')}${new Set(px).size > 3 ? ', …' : ''}` : '';
      info.textContent =
        `${set.images.length} image${set.images.length === 1 ? '' : 's'}${sizes} (${(set.bytes / 1024 ** 2).toFixed(1)} MB decoded)` +
        (set.failed.length ? `; skipped ${set.failed.length}: ${set.failed.slice(0, 2).join('; ')}` : '');
      setState('ready', set.images.length === 0 ? 'none of those files could be decoded' : '', set.images.length === 0);
    } catch (err) {
      setState('error', messageOf(err), true);
    }
  };
  for (const which of ['lr', 'hr'] as const) {
    const input = byId(`train-${which}`, HTMLInputElement);
    input.addEventListener('change', () => void pickSet(which, [...(input.files ?? [])]));
    onDropFiles(byId(`train-${which}-drop`), (files) => void pickSet(which, files));
  }

  const drawPlot = () => {
    // Pretraining steps have only their L1 loss; the solver's steps the three OT curves.
    const paired = history.filter((l) => l.paired !== undefined);
    const ots = history.filter((l) => l.paired === undefined);
    const series = [
      { name: 'pretraining L1  E|T(x) - y|', points: paired.map((l) => [l.step, l.paired!] as [number, number]) },
      { name: 'map loss  E[c(x,T(x)) - f(T(x))]', points: ots.map((l) => [l.step, l.mapLoss] as [number, number]) },
      { name: 'potential loss  E[f(T(x))] - E[f(y)]', points: ots.map((l) => [l.step, l.potentialLoss] as [number, number]) },
      { name: 'transport cost  E[c(x,T(x))]', points: ots.map((l) => [l.step, l.cost] as [number, number]) },
    ].filter((s) => s.points.length > 0);
    plot.innerHTML = linePlotSvg(series, { title: 'training', xLabel: 'outer step', width: 520, height: 300 });
  };

  const drawPreview = async () => {
    if (!trainer) return;
    const grid = trainer.previewGrid();
    try {
      const [h, w] = grid.shape;
      const data = (await grid.data()) as Float32Array;
      const canvas = document.createElement('canvas');
      drawToCanvas(canvas, fromFloat({ width: w, height: h, channels: 3, data }));
      const figure = document.createElement('figure');
      const caption = document.createElement('figcaption');
      caption.textContent = `after step ${trainer.stepCount}: LR | bicubic | map`;
      figure.append(canvas, caption);
      samples.replaceChildren(figure);
    } finally {
      grid.dispose();
    }
  };

  startButton.addEventListener('click', async () => {
    if (!sets.lr || !sets.hr) return;
    trainer?.dispose();
    trainer = undefined;
    history = [];
    plot.replaceChildren();
    samples.replaceChildren();
    const steps = num('train-steps');
    const pretrainSteps = num('train-pretrain-steps');
    try {
      if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer, got ${byId('train-steps', HTMLInputElement).value}`);
      if (!(pretrainSteps <= steps)) throw new Error(`pretraining steps (${pretrainSteps}) are counted in the steps (${steps}): give at most as many`);
      trainer = new WebTrainer(sets.lr, sets.hr, {
        scale: Number(scaleSelect.value),
        crop: num('train-crop'),
        batch: num('train-batch'),
        kMap: num('train-k'),
        learningRate: num('train-lr-rate'),
        seed: num('train-seed'),
        pretrainSteps,
        degradation: byId('train-degradation', HTMLInputElement).value,
        jpeg: canvasJpegRoundTrip,
      });
    } catch (err) {
      setState('error', messageOf(err), true);
      return;
    }
    const skipped = [...trainer.source.skipped, ...trainer.target.skipped];
    running = new AbortController();
    const signal = running.signal;
    progress.value = 0;
    setState('running', `training: ${trainer.map.parameterCount().toLocaleString('en')} map parameters, ${trainer.potential.parameterCount().toLocaleString('en')} potential parameters${skipped.length ? `; ${skipped.length} images smaller than the crop left out` : ''}`);
    await drawPreview();
    const previewEvery = Math.max(1, Math.round(steps / 10));
    const t0 = performance.now();
    let lastPlot = 0;
    try {
      while (trainer.stepCount < steps) {
        if (signal.aborted) throw new CancelledError();
        history.push(await trainer.step());
        const done = trainer.stepCount;
        progress.value = done / steps;
        const elapsed = (performance.now() - t0) / 1000;
        const phase = done <= trainer.options.pretrainSteps ? 'pretraining' : 'OTS';
        status.textContent = `step ${done}/${steps} (${phase}), ${formatSeconds(elapsed / done)} per step, about ${formatSeconds((elapsed / done) * (steps - done))} left`;
        if (performance.now() - lastPlot > PLOT_EVERY_MS || done === steps) {
          drawPlot();
          lastPlot = performance.now();
        }
        if (done % previewEvery === 0 || done === steps) await drawPreview();
        // The step itself blocks the thread on wasm: let the page paint and see clicks (Cancel) between steps.
        await yieldToPage();
      }
      setState('done', `trained ${steps} steps in ${formatSeconds((performance.now() - t0) / 1000)}; export the model or use it in Upscale`);
    } catch (err) {
      drawPlot();
      await drawPreview().catch(() => undefined);
      if (err instanceof CancelledError) setState('cancelled', `cancelled after ${trainer.stepCount} steps; what was learned so far can be exported`);
      else setState('error', messageOf(err), true);
    } finally {
      running = undefined;
      // tf.memory() is cheap; the number helps spot a leak while the page runs.
      section.dataset.tensors = String(tf.memory().numTensors);
    }
  });
  cancelButton.addEventListener('click', () => running?.abort());

  const modelFiles = () => trainer!.exportModel({ backend: backendName });
  const folderName = () => `otsr-x${trainer!.options.scale}-${trainer!.stepCount}steps`;
  exportZip.addEventListener('click', async () => {
    if (!trainer) return;
    const files = await modelFiles();
    const name = folderName();
    const zip = zipStore([...files].map(([n, b]) => [`${name}/${n}`, b] as [string, Uint8Array]));
    download(new Blob([zip], { type: 'application/zip' }), `${name}.zip`);
  });
  exportFiles.addEventListener('click', async () => {
    if (!trainer) return;
    for (const [name, bytes] of await modelFiles()) {
      download(new Blob([bytes.slice()], { type: name.endsWith('.json') ? 'application/json' : 'application/octet-stream' }), name);
    }
  });
  useButton.addEventListener('click', () => {
    if (!trainer) return;
    upscale.offerModel('trained', fromModule(trainer.copyMap(), trainer.options.scale, `trained here (${trainer.stepCount} steps, x${trainer.options.scale})`));
    showUpscaleTab();
  });

  setState('idle');
}

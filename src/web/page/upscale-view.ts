/** The Upscale tab: pick an image and a model, upscale with progress and cancel, compare, download. */
import { CancelledError } from '../../errors.js';
import type { RgbImage } from '../../image/pixels.js';
import { setupCompare } from './compare.js';
import { byId, formatSeconds, messageOf, onDropFiles } from './dom.js';
import { type PageModel, type ServerConfig, bicubicModel, loadPickedModel, loadServedModel } from './models.js';
import { canvasLimitProblem, decodeImageFile, download, drawToCanvas, encodePng } from './pixels.js';
import { runUpscale } from './run-upscale.js';

type State = 'idle' | 'loading' | 'ready' | 'running' | 'done' | 'cancelled' | 'error';

export interface UpscaleView {
  /** Adds (or replaces) a model in the list and selects it, e.g. one trained in the Train tab. */
  offerModel(key: string, model: PageModel): void;
}

export function setupUpscaleView(backendLabel: string, config: ServerConfig | undefined): UpscaleView {
  const section = byId('upscale');
  const imageInput = byId('image-input', HTMLInputElement);
  const imageInfo = byId('image-info');
  const select = byId('model-select', HTMLSelectElement);
  const modelInfo = byId('model-info');
  const modelDir = byId('model-dir', HTMLInputElement);
  const modelFiles = byId('model-files', HTMLInputElement);
  const tileInput = byId('tile', HTMLInputElement);
  const overlapInput = byId('overlap', HTMLInputElement);
  const goButton = byId('upscale-button', HTMLButtonElement);
  const cancelButton = byId('upscale-cancel', HTMLButtonElement);
  const progress = byId('upscale-progress', HTMLProgressElement);
  const status = byId('upscale-status');
  const figure = byId('compare');
  const before = byId('before', HTMLCanvasElement);
  const after = byId('after', HTMLCanvasElement);
  const downloadButton = byId('download', HTMLButtonElement);
  const resultInfo = byId('result-info');
  setupCompare(figure, byId('split', HTMLInputElement));

  const models = new Map<string, PageModel>();
  let image: { rgb: RgbImage; name: string } | undefined;
  let result: { rgb: RgbImage; name: string } | undefined;
  let running: AbortController | undefined;

  const setState = (state: State, message = '', error = false) => {
    section.dataset.state = state;
    status.textContent = message;
    status.classList.toggle('error', error);
    const busy = state === 'running' || state === 'loading';
    goButton.disabled = busy || !image || !models.get(select.value);
    cancelButton.disabled = state !== 'running';
    select.disabled = busy;
    downloadButton.disabled = busy || !result;
  };

  /** Shows the comparison at the output's size (the input is enlarged without interpolation). */
  const layoutCompare = () => {
    const m = models.get(select.value);
    const shown = result?.rgb ?? (image && m ? { width: image.rgb.width * m.scale } : undefined);
    if (shown) figure.style.width = `${shown.width}px`;
  };

  const describeModel = () => {
    layoutCompare();
    const m = models.get(select.value);
    modelInfo.textContent = m ? (m.module ? `${m.module.parameterCount().toLocaleString('en')} parameters, x${m.scale}` : `no weights, x${m.scale}`) : '';
  };

  const offerModel = (key: string, model: PageModel) => {
    models.get(key)?.dispose();
    models.set(key, model);
    let option = [...select.options].find((o) => o.value === key);
    if (!option) {
      option = document.createElement('option');
      option.value = key;
      select.prepend(option);
    }
    option.textContent = model.label;
    select.value = key;
    describeModel();
    setState('ready');
  };

  for (const s of [4, 3, 2]) offerModel(`bicubic-${s}`, bicubicModel(s));
  select.value = 'bicubic-4';
  describeModel();
  select.addEventListener('change', describeModel);

  const loadModel = async (what: string, load: () => Promise<PageModel>, key: string) => {
    setState('loading', `loading ${what}…`);
    try {
      offerModel(key, await load());
      setState('ready', `loaded ${what}`);
    } catch (err) {
      setState('error', messageOf(err), true);
    }
  };

  if (config?.model) {
    const served = config.model;
    void loadModel(`the served model ${served.name}`, () => loadServedModel(served), 'served');
  }

  const pickModel = (files: File[]) => {
    if (files.length === 0) return;
    void loadModel('the model folder', () => loadPickedModel(files), 'picked');
  };
  modelDir.addEventListener('change', () => pickModel([...(modelDir.files ?? [])]));
  modelFiles.addEventListener('change', () => pickModel([...(modelFiles.files ?? [])]));

  const openImage = async (file: File) => {
    setState('loading', `decoding ${file.name}…`);
    try {
      const rgb = await decodeImageFile(file, file.name);
      image = { rgb, name: file.name };
      result = undefined;
      imageInfo.textContent = `${file.name}: ${rgb.width}x${rgb.height}${rgb.alpha ? ' with transparency' : ''}`;
      drawToCanvas(before, rgb);
      // The result canvas is cleared until the new image is upscaled; the figure shows the input alone.
      after.width = rgb.width;
      after.height = rgb.height;
      figure.hidden = false;
      layoutCompare();
      resultInfo.textContent = '';
      progress.value = 0;
      setState('ready', 'ready to upscale');
    } catch (err) {
      setState('error', messageOf(err), true);
    }
  };
  imageInput.addEventListener('change', () => {
    const f = imageInput.files?.[0];
    if (f) void openImage(f);
  });
  onDropFiles(byId('drop'), (files) => {
    if (files.some((f) => f.name === 'model.json')) pickModel(files);
    else void openImage(files[0]!);
  });

  goButton.addEventListener('click', async () => {
    const model = models.get(select.value);
    if (!image || !model) return;
    const { rgb, name } = image;
    const problem = canvasLimitProblem(rgb.width * model.scale, rgb.height * model.scale);
    if (problem) {
      setState('error', problem, true);
      return;
    }
    running = new AbortController();
    progress.value = 0;
    setState('running', `upscaling with ${model.label}…`);
    const t0 = performance.now();
    try {
      const out = await runUpscale(rgb, model, {
        tile: Number(tileInput.value) || undefined,
        overlap: Number(overlapInput.value) >= 0 ? Number(overlapInput.value) : undefined,
        signal: running.signal,
        progress: (f) => {
          progress.value = f;
        },
      });
      const seconds = (performance.now() - t0) / 1000;
      const stem = name.replace(/\.[^.]+$/, '');
      result = { rgb: out, name: `${stem}_${select.value.startsWith('bicubic') ? 'bicubic' : 'otsr'}_x${model.scale}.png` };
      drawToCanvas(after, out);
      layoutCompare();
      resultInfo.textContent = `${out.width}x${out.height} from ${rgb.width}x${rgb.height} with ${model.label} in ${formatSeconds(seconds)} on ${backendLabel}`;
      setState('done', `done in ${formatSeconds(seconds)}`);
    } catch (err) {
      if (err instanceof CancelledError) setState('cancelled', 'cancelled');
      else setState('error', messageOf(err), true);
    } finally {
      running = undefined;
    }
  });
  cancelButton.addEventListener('click', () => running?.abort());

  downloadButton.addEventListener('click', async () => {
    if (!result) return;
    download(await encodePng(result.rgb), result.name);
  });

  setState('idle');
  return { offerModel };
}

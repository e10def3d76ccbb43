/**
 * The web page, tested as a person uses it: Debian's Chromium (driven by playwright-core, never a
 * downloaded browser) opens the page that `otsr serve` serves, a real photo is picked, upscaled with the
 * served model, compared, downloaded; the PNG must have the right size and equal Node's output for the same
 * model and image within float tolerance. Then the same model is opened as a picked folder, and bicubic is
 * checked against Node's bicubic.
 *
 * Needs /usr/bin/chromium (`apt-get install -y chromium`; .ci/run installs it), or OTSR_CHROMIUM=path.
 * OTSR_UPDATE_SCREENSHOT=1 also writes the screenshot to docs/web-screenshot.png.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { type BrowserContext, type Download, type Page, chromium } from 'playwright-core';
import { buildWeb } from '../../scripts/build-web.js';
import { initBackend } from '../../src/engine/backend.js';
import { readImage } from '../../src/image/io.js';
import { type RgbImage, fromFloat, toFloat } from '../../src/image/pixels.js';
import { upsampleBicubic } from '../../src/image/resize-tensor.js';
import { Edsr } from '../../src/nn/edsr.js';
import { upscale } from '../../src/upscale/tiles.js';
import type { Module } from '../../src/nn/module.js';
import { buildModule } from '../../src/nn/registry.js';
import { loadModel, saveModel } from '../../src/nn/serialize-node.js';
import { WebTrainer } from '../../src/web/trainer.js';
import { repoRoot } from '../helpers/cli.js';
import { unpairedX4 } from '../helpers/data.js';

const CHROMIUM = process.env.OTSR_CHROMIUM ?? '/usr/bin/chromium';
const PHOTO = path.join(unpairedX4, 'val', 'lr', 'building.jpg');
const SCALE = 4;

const tmp = mkdtempSync(path.join(tmpdir(), 'otsr-e2e-'));
let server: ChildProcess | undefined;
let context: BrowserContext | undefined;
after(async () => {
  await context?.close().catch(() => {});
  server?.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
});

/** Starts `otsr serve` as a user would and resolves with the URL it prints. */
function startServe(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'serve', ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = child;
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
      if (m) resolve(m[0]);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('exit', (code) => reject(new Error(`otsr serve exited with ${code}: ${err || out}`)));
  });
}

/** Per-channel byte differences between two images of the same size. */
function compare(a: RgbImage, b: RgbImage): { max: number; differing: number; mean: number } {
  assert.equal(a.width, b.width);
  assert.equal(a.height, b.height);
  let max = 0;
  let differing = 0;
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i]! - b.data[i]!);
    if (d > max) max = d;
    if (d > 0) differing++;
    sum += d;
  }
  return { max, differing: differing / a.data.length, mean: sum / a.data.length };
}

/** Tiles the page is told to use: small, so that the photo is cut into 3 x 3 tiles. */
const TILE = 64;
const OVERLAP = 16;

/** Node's output for the same image and model (or bicubic), through the same library function. */
async function nodeUpscale(img: RgbImage, model: Module | undefined): Promise<RgbImage> {
  const out = await upscale(toFloat(img), {
    model: (x) => (model ? (model.apply(x) as tf.Tensor4D) : upsampleBicubic(x, SCALE)),
    scale: SCALE,
    tile: TILE,
    overlap: OVERLAP,
  });
  return fromFloat(out);
}

/** Picks the image, runs the upscale with the selected model, downloads the PNG and reads it back. */
async function upscaleInPage(page: Page, expectedName: RegExp): Promise<RgbImage> {
  await page.click('#upscale-button');
  await page.waitForFunction(() => ['done', 'error', 'cancelled'].includes(document.getElementById('upscale')!.dataset.state!), null, {
    timeout: 30_000,
  });
  const state = await page.getAttribute('#upscale', 'data-state');
  assert.equal(state, 'done', `the page says: ${await page.textContent('#upscale-status')}`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  assert.match(download.suggestedFilename(), expectedName);
  const file = path.join(tmp, `download-${Date.now()}.png`);
  await download.saveAs(file);
  return readImage(file);
}

let photo: RgbImage;
let model: Module;
let page: Page;
before(async () => {
  if (!existsSync(CHROMIUM)) {
    assert.fail(`Chromium is needed for the web page test and was not found at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (.ci/run does this), or point OTSR_CHROMIUM at a Chromium binary`);
  }
  await initBackend('wasm');
  photo = await readImage(PHOTO);
  const edsr = new Edsr({ nResBlocks: 2, nFeats: 16, scale: SCALE, skip: 'upsample', upsampler: upsampleBicubic, seed: 11 });
  // A fresh skip EDSR is exactly bicubic (zero tail); give it a tail, as training would, so the two differ.
  const tail = edsr.params.get('tail.w')!;
  tf.tidy(() => tail.assign(tf.randomNormal(tail.shape, 0, 0.02, 'float32', 12)));
  await saveModel(path.join(tmp, 'model'), edsr, { scale: SCALE });
  edsr.dispose();
  model = (await loadModel(path.join(tmp, 'model'), { upsampler: upsampleBicubic })).module;

  const web = path.join(tmp, 'web');
  await buildWeb({ outDir: web, log: false });
  const url = await startServe(['--port', '0', '--model', path.join(tmp, 'model'), '--root', web]);
  context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    acceptDownloads: true,
    viewport: { width: 1100, height: 1000 },
  });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
});
const pageErrors: string[] = [];

test('the page upscales a photo in Chromium like Node does (served model, picked model folder, bicubic)', { timeout: 60_000 }, async (t) => {
  t.diagnostic(`page backend: ${await page.textContent('#backend')}`);

  // The served model is loaded and selected by itself.
  await page.waitForFunction(() => (document.getElementById('model-select') as HTMLSelectElement).value === 'served', null, { timeout: 20_000 });
  await page.setInputFiles('#image-input', PHOTO);
  await page.waitForFunction(() => document.getElementById('upscale')!.dataset.state === 'ready');
  await page.click('#upscale details summary');
  await page.fill('#tile', String(TILE));
  await page.fill('#overlap', String(OVERLAP));

  // The page decodes the JPEG to the same pixels as Node (sharp).
  const decoded = await page.evaluate(() => {
    const c = document.getElementById('before') as HTMLCanvasElement;
    return { w: c.width, h: c.height, rgba: [...c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data] };
  });
  assert.equal(decoded.w, photo.width);
  assert.equal(decoded.h, photo.height);
  let decodeDiff = 0;
  for (let i = 0; i < photo.width * photo.height; i++) {
    for (let c = 0; c < 3; c++) decodeDiff = Math.max(decodeDiff, Math.abs(decoded.rgba[4 * i + c]! - photo.data[3 * i + c]!));
  }
  t.diagnostic(`largest difference between the page's and sharp's decoding of the JPEG: ${decodeDiff}`);

  const served = await upscaleInPage(page, /^building_otsr_x4\.png$/);
  assert.equal(served.width, photo.width * SCALE);
  assert.equal(served.height, photo.height * SCALE);
  const expected = await nodeUpscale(photo, model);
  const d = compare(served, expected);
  t.diagnostic(`served model vs Node: max ${d.max}, ${(100 * d.differing).toFixed(3)}% of values differ, mean ${d.mean.toFixed(5)}`);
  assert.ok(d.max <= 1 && d.differing < 0.01, `page and Node disagree: ${JSON.stringify(d)}`);
  // The model really ran: its output is not bicubic's.
  const bicubic = await nodeUpscale(photo, undefined);
  assert.ok(compare(expected, bicubic).mean > 0.5, 'the test model is too close to bicubic to tell them apart');

  // A screenshot of what a person sees, with the slider moved to show both halves.
  await page.fill('#split', '40');
  await page.dispatchEvent('#split', 'input');
  const shot = path.join(tmp, 'web-screenshot.png');
  await page.screenshot({ path: shot, fullPage: true });
  if (process.env.OTSR_UPDATE_SCREENSHOT) {
    mkdirSync(path.join(repoRoot, 'docs'), { recursive: true });
    copyFileSync(shot, path.join(repoRoot, 'docs', 'web-screenshot.png'));
  }

  // The same model, opened as a folder the user picks, gives the same picture.
  await page.setInputFiles('#model-files', [path.join(tmp, 'model', 'model.json'), path.join(tmp, 'model', 'group1-shard1of1.bin')]);
  await page.waitForFunction(() => (document.getElementById('model-select') as HTMLSelectElement).value === 'picked', null, { timeout: 20_000 });
  const picked = await upscaleInPage(page, /^building_otsr_x4\.png$/);
  assert.deepEqual(compare(picked, served), { max: 0, differing: 0, mean: 0 });

  // Bicubic, no weights.
  await page.selectOption('#model-select', 'bicubic-4');
  const bic = await upscaleInPage(page, /^building_bicubic_x4\.png$/);
  const db = compare(bic, bicubic);
  t.diagnostic(`bicubic vs Node: max ${db.max}, ${(100 * db.differing).toFixed(3)}% of values differ`);
  assert.ok(db.max <= 1 && db.differing < 0.01, `page and Node disagree on bicubic: ${JSON.stringify(db)}`);

  assert.deepEqual(pageErrors, []);
});

test('the page trains a small OTS model from two sets of photos, like Node does, and exports it for loadModel', { timeout: 60_000 }, async (t) => {
  const pick = (which: 'lr' | 'hr') => {
    const dir = path.join(unpairedX4, 'train', which);
    return readdirSync(dir).sort().slice(0, 4).map((f) => path.join(dir, f));
  };
  // Pretraining with a degradation without JPEG: the page's arithmetic is Node's exactly (JPEG codecs differ, so the
  // page's canvas JPEG is exercised by the cancelled run below).
  const settings = { steps: 4, pretrainSteps: 2, degradation: 'blur=1,noise=4', crop: 32, batch: 2, kMap: 2, learningRate: 1e-3, seed: 7 };
  await page.click('#tab-train');
  // The browser may list picked files in any order; the page sorts them by name, as Node's folder listing does.
  await page.setInputFiles('#train-lr', pick('lr').reverse());
  await page.setInputFiles('#train-hr', pick('hr'));
  await page.waitForFunction(() => !(document.getElementById('train-start') as HTMLButtonElement).disabled, null, { timeout: 20_000 });
  await page.fill('#train-steps', String(settings.steps));
  await page.fill('#train-pretrain-steps', String(settings.pretrainSteps));
  await page.fill('#train-degradation', settings.degradation);
  await page.fill('#train-crop', String(settings.crop));
  await page.fill('#train-batch', String(settings.batch));
  await page.fill('#train-k', String(settings.kMap));
  await page.fill('#train-lr-rate', String(settings.learningRate));
  await page.fill('#train-seed', String(settings.seed));
  await page.click('#train-start');
  await page.waitForFunction(() => ['done', 'error', 'cancelled'].includes(document.getElementById('train')!.dataset.state!), null, { timeout: 40_000 });
  assert.equal(await page.getAttribute('#train', 'data-state'), 'done', `the page says: ${await page.textContent('#train-status')}`);
  t.diagnostic(`page: ${await page.textContent('#train-status')}`);
  // A live plot with the three curves, and a sample preview.
  assert.equal(await page.locator('#loss-plot svg polyline, #loss-plot svg path').count() >= 4, true);
  assert.equal(await page.locator('#train-samples canvas').count(), 1);

  // Export as separate files and as a zip.
  const out = path.join(tmp, 'trained');
  mkdirSync(out);
  const downloads: Download[] = [];
  const collect = (d: Download) => downloads.push(d);
  page.on('download', collect);
  await page.click('#train-export-files');
  await waitFor(() => downloads.length === 2);
  await page.click('#train-export');
  await waitFor(() => downloads.length === 3);
  page.off('download', collect);
  for (const d of downloads.slice(0, 2)) await d.saveAs(path.join(out, d.suggestedFilename()));
  const zipName = downloads[2]!.suggestedFilename();
  assert.equal(zipName, `otsr-x4-${settings.steps}steps.zip`);
  const zipPath = path.join(tmp, zipName);
  await downloads[2]!.saveAs(zipPath);
  const zip = readFileSync(zipPath);
  // Stored entries: the weights are in the zip byte for byte (model.json differs only in its creation time).
  assert.ok(zip.includes(readFileSync(path.join(out, 'group1-shard1of1.bin'))), 'the zip holds the weights');
  assert.ok(zip.includes(`otsr-x4-${settings.steps}steps/model.json`), 'the zip holds model.json in a folder');

  // Node loads what the page exported ...
  const trained = await loadModel(out, { upsampler: upsampleBicubic });
  assert.equal(trained.manifest.scale, SCALE);
  assert.equal((trained.manifest.training as { steps: number }).steps, settings.steps);

  // ... and it is what the same training computes in Node, from the same photos decoded by sharp.
  const load = async (files: string[]) => ({ names: files.map((f) => path.basename(f)), images: await Promise.all(files.map((f) => readImage(f))) });
  const trainer = new WebTrainer(await load(pick('lr')), await load(pick('hr')), { scale: SCALE, ...settings });
  for (let i = 0; i < settings.steps; i++) await trainer.step();
  let maxDiff = 0;
  let maxStep = 0;
  const initial = buildModule(trainer.options.map, { seed: settings.seed, upsampler: upsampleBicubic });
  // What the trainer exports (with the default EMA, the weights' average once the OT steps began).
  const exported = trainer.copyMap();
  for (const [name, v] of exported.params) {
    const [a, b, c] = [await v.data(), await trained.module.params.get(name)!.data(), await initial.params.get(name)!.data()];
    for (let i = 0; i < a.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
      maxStep = Math.max(maxStep, Math.abs(a[i]! - c[i]!));
    }
  }
  t.diagnostic(`trained weights, page vs Node: largest difference ${maxDiff.toExponential(2)} (training moved them by up to ${maxStep.toExponential(2)})`);
  assert.ok(maxStep > 1e-3, 'training changed the weights');
  assert.ok(maxDiff < 1e-5, `page and Node trained different weights (max difference ${maxDiff})`);
  initial.dispose();
  exported.dispose();
  trainer.dispose();
  trained.module.dispose();

  if (process.env.OTSR_UPDATE_SCREENSHOT) await page.screenshot({ path: path.join(repoRoot, 'docs', 'web-train-screenshot.png'), fullPage: true });

  // A long run can be cancelled part-way; what was learned so far stays exportable.
  // Its pretraining draws the blind degradation, JPEG included, through the browser's own codec.
  await page.fill('#train-steps', '1000');
  await page.fill('#train-pretrain-steps', '1000');
  await page.fill('#train-degradation', 'blind');
  await page.click('#train-start');
  await page.waitForFunction(() => /^step [2-9]\d*\/1000 \(pretraining\)/.test(document.getElementById('train-status')!.textContent ?? ''), null, { timeout: 20_000 });
  await page.click('#train-cancel');
  await page.waitForFunction(() => document.getElementById('train')!.dataset.state !== 'running', null, { timeout: 20_000 });
  assert.equal(await page.getAttribute('#train', 'data-state'), 'cancelled');
  assert.match((await page.textContent('#train-status')) ?? '', /^cancelled after \d+ steps/);
  assert.equal(await page.isEnabled('#train-export'), true);

  // The trained map goes straight to the Upscale tab.
  await page.click('#train-use');
  assert.equal(await page.inputValue('#model-select'), 'trained');
  assert.equal(await page.isVisible('#upscale'), true);
  assert.deepEqual(pageErrors, []);
});

async function waitFor(condition: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('transparency is upscaled too (alpha exact; colour exact where the photo is opaque)', { timeout: 30_000 }, async (t) => {
  // The photo, opaque on its left half, fading out on its right half.
  const { width: w, height: h } = photo;
  const rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    const x = i % w;
    rgba.set(photo.data.subarray(3 * i, 3 * i + 3), 4 * i);
    rgba[4 * i + 3] = x < w / 2 ? 255 : Math.max(1, Math.round(255 * (1 - (x - w / 2) / (w / 2))));
  }
  const file = path.join(tmp, 'fading.png');
  await sharp(rgba, { raw: { width: w, height: h, channels: 4 } }).png().toFile(file);
  const input = await readImage(file);
  assert.ok(input.alpha);

  await page.click('#tab-upscale');
  await page.setInputFiles('#image-input', file);
  await page.waitForFunction(() => document.getElementById('upscale')!.dataset.state === 'ready');
  await page.selectOption('#model-select', 'bicubic-4');
  const out = await upscaleInPage(page, /^fading_bicubic_x4\.png$/);
  assert.ok(out.alpha, 'the result keeps its alpha channel');

  const f = new Float32Array(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) f[4 * i + c] = input.data[3 * i + c]! / 127.5 - 1;
    f[4 * i + 3] = input.alpha[i]! / 127.5 - 1;
  }
  const node = await upscale({ width: w, height: h, channels: 4, data: f }, { model: (x) => upsampleBicubic(x, SCALE), scale: SCALE, tile: TILE, overlap: OVERLAP });
  const byte = (v: number) => Math.min(255, Math.max(0, Math.round((v + 1) * 127.5)));
  let alphaDiff = 0;
  let colourDiff = 0;
  const W = w * SCALE;
  for (let i = 0; i < W * h * SCALE; i++) {
    alphaDiff = Math.max(alphaDiff, Math.abs(out.alpha[i]! - byte(node.data[4 * i + 3]!)));
    // Left of the fade (with a margin for bicubic's reach): colours must be exact.
    if (i % W < (w / 2 - 3) * SCALE) {
      for (let c = 0; c < 3; c++) colourDiff = Math.max(colourDiff, Math.abs(out.data[3 * i + c]! - byte(node.data[4 * i + c]!)));
    }
  }
  t.diagnostic(`alpha vs Node: max ${alphaDiff}; colour where opaque: max ${colourDiff}`);
  assert.ok(alphaDiff <= 1, `alpha differs by up to ${alphaDiff}`);
  assert.ok(colourDiff <= 1, `colour differs by up to ${colourDiff}`);
});

test('the webgl backend (forced with ?backend=webgl) agrees with Node too', { timeout: 40_000 }, async (t) => {
  // A small crop: headless Chromium's WebGL is SwiftShader, a CPU emulation of a GPU, and slow.
  const crop = path.join(tmp, 'crop.png');
  await sharp(PHOTO).extract({ left: 60, top: 40, width: 48, height: 40 }).png().toFile(crop);
  const input = await readImage(crop);
  const gl = await context!.newPage();
  gl.on('pageerror', (e) => pageErrors.push(e.message));
  await gl.goto(`${page.url().split('?')[0]}?backend=webgl`);
  await gl.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  assert.equal(await gl.getAttribute('body', 'data-backend'), 'webgl');
  t.diagnostic(`forced backend: ${await gl.textContent('#backend')}`);
  await gl.waitForFunction(() => (document.getElementById('model-select') as HTMLSelectElement).value === 'served', null, { timeout: 20_000 });
  await gl.setInputFiles('#image-input', crop);
  await gl.waitForFunction(() => document.getElementById('upscale')!.dataset.state === 'ready');
  const out = await upscaleInPage(gl, /^crop_otsr_x4\.png$/);
  const expected = fromFloat(await upscale(toFloat(input), { model: (x) => model.apply(x) as tf.Tensor4D, scale: SCALE, tile: 128, overlap: 16 }));
  const d = compare(out, expected);
  t.diagnostic(`webgl vs Node: max ${d.max}, ${(100 * d.differing).toFixed(3)}% of values differ`);
  assert.ok(d.max <= 1 && d.differing < 0.01, `page (webgl) and Node disagree: ${JSON.stringify(d)}`);
  await gl.close();
  assert.deepEqual(pageErrors, []);
});

test('a large upscale shows progress and can be cancelled', { timeout: 60_000 }, async () => {
  await page.click('#tab-upscale');
  const big = path.join(unpairedX4, 'train', 'hr');
  await page.setInputFiles('#image-input', path.join(big, readdirSync(big).sort()[0]!));
  await page.waitForFunction(() => document.getElementById('upscale')!.dataset.state === 'ready');
  await page.selectOption('#model-select', 'served');
  if (!(await page.isVisible('#tile'))) await page.click('#upscale details summary');
  await page.fill('#tile', '32');
  await page.click('#upscale-button');
  // The bar moves while tiles are done (the page paints between tiles) ...
  await page.waitForFunction(() => (document.getElementById('upscale-progress') as HTMLProgressElement).value > 0, null, { timeout: 20_000 });
  // ... and Cancel stops the run.
  await page.click('#upscale-cancel');
  await page.waitForFunction(() => document.getElementById('upscale')!.dataset.state !== 'running', null, { timeout: 20_000 });
  assert.equal(await page.getAttribute('#upscale', 'data-state'), 'cancelled', `the page says: ${await page.textContent('#upscale-status')}`);
  const fraction = await page.evaluate(() => (document.getElementById('upscale-progress') as HTMLProgressElement).value);
  assert.ok(fraction > 0 && fraction < 1, `cancelled part-way (progress ${fraction})`);
  assert.deepEqual(pageErrors, []);
});

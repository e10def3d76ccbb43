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
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { buildWeb } from '../../scripts/build-web.js';
import { initBackend } from '../../src/engine/backend.js';
import { readImage } from '../../src/image/io.js';
import { type RgbImage, fromFloat, toFloat } from '../../src/image/pixels.js';
import { upsampleBicubic } from '../../src/image/resize-tensor.js';
import { Edsr } from '../../src/nn/edsr.js';
import type { Module } from '../../src/nn/module.js';
import { loadModel, saveModel } from '../../src/nn/serialize-node.js';
import { repoRoot } from '../helpers/cli.js';

const CHROMIUM = process.env.OTSR_CHROMIUM ?? '/usr/bin/chromium';
const PHOTO = path.join(repoRoot, '..', 'shared', 'data', 'unpaired-x4', 'val', 'lr', 'building.jpg');
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

/** Node's output for the same image and model (or bicubic), through the same library functions. */
function nodeUpscale(img: RgbImage, model: Module | undefined): RgbImage {
  const y = tf.tidy(() => {
    const x = tf.tensor4d(toFloat(img).data, [1, img.height, img.width, 3]);
    return model ? (model.apply(x) as tf.Tensor4D) : upsampleBicubic(x, SCALE);
  });
  const data = y.dataSync() as Float32Array;
  const out = fromFloat({ width: y.shape[2], height: y.shape[1], channels: 3, data });
  y.dispose();
  return out;
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
before(async () => {
  await initBackend('wasm');
  photo = await readImage(PHOTO);
  const edsr = new Edsr({ nResBlocks: 2, nFeats: 16, scale: SCALE, skip: 'upsample', upsampler: upsampleBicubic, seed: 11 });
  await saveModel(path.join(tmp, 'model'), edsr, { scale: SCALE });
  edsr.dispose();
  model = (await loadModel(path.join(tmp, 'model'), { upsampler: upsampleBicubic })).module;
});

test('the page upscales a photo in Chromium like Node does (served model, picked model folder, bicubic)', { timeout: 120_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    assert.fail(`Chromium is needed for the web page test and was not found at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (.ci/run does this), or point OTSR_CHROMIUM at a Chromium binary`);
  }
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
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  t.diagnostic(`page backend: ${await page.textContent('#backend')}`);

  // The served model is loaded and selected by itself.
  await page.waitForFunction(() => (document.getElementById('model-select') as HTMLSelectElement).value === 'served', null, { timeout: 20_000 });
  await page.setInputFiles('#image-input', PHOTO);
  await page.waitForFunction(() => document.getElementById('upscale')!.dataset.state === 'ready');

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
  const expected = nodeUpscale(photo, model);
  const d = compare(served, expected);
  t.diagnostic(`served model vs Node: max ${d.max}, ${(100 * d.differing).toFixed(3)}% of values differ, mean ${d.mean.toFixed(5)}`);
  assert.ok(d.max <= 1 && d.differing < 0.01, `page and Node disagree: ${JSON.stringify(d)}`);
  // The model really ran: its output is not bicubic's.
  const bicubic = nodeUpscale(photo, undefined);
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

  assert.deepEqual(errors, []);
});

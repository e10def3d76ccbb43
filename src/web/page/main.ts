/**
 * The otsr page: upscale images and train small models with TF.js on the visitor's own device.
 * `?backend=wasm|webgl|webgpu` forces a backend (otherwise webgpu, then webgl, then wasm).
 */
import type { BackendName } from '../../engine/backend.js';
import { startBackend, describeBackend } from './backend.js';
import { byId, messageOf } from './dom.js';
import { fetchServerConfig } from './models.js';
import { setupTabs } from './tabs.js';
import { setupTrainView } from './train-view.js';
import { setupUpscaleView } from './upscale-view.js';

async function main(): Promise<void> {
  const backendOut = byId('backend');
  const showTab = setupTabs();
  let label: string;
  let name: BackendName;
  try {
    name = await startBackend(new URLSearchParams(location.search).get('backend'));
    label = describeBackend(name);
    backendOut.textContent = label;
    document.body.dataset.backend = name;
  } catch (err) {
    backendOut.textContent = `none could start: ${messageOf(err)}`;
    backendOut.classList.add('error');
    return;
  }
  const config = await fetchServerConfig();
  const upscale = setupUpscaleView(label, config);
  setupTrainView(name, upscale, () => showTab('tab-upscale'));
  document.body.dataset.ready = 'true';
}

void main();

/** otsr: unpaired image super-resolution with neural optimal transport. */
export { initBackend, type BackendName } from './engine/backend.js';
export { OtsrError, UsageError, InputError, CancelledError } from './errors.js';
export * from './nn/index.js';
export { saveModel, loadModel, writeFolderAtomic } from './nn/serialize-node.js';
export { OTSR_VERSION } from './version.js';

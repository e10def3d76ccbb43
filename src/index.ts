/** otsr: unpaired image super-resolution with neural optimal transport. */
export { initBackend, type BackendName } from './engine/backend.js';
export { OtsrError, UsageError, InputError, CancelledError } from './errors.js';
export * from './ot/index.js';

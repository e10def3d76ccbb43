/** Training kernels for the wasm backend; filled in by the engine work. */
export function registerWasmTrainingKernels(): void {}

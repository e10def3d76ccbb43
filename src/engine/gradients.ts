/** Gradients that tfjs-core lacks; filled in by the engine work. */
export function registerMissingGradients(): void {}

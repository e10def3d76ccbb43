/** otsr's version, written into saved models and checkpoints (kept equal to package.json by a test). */
export const OTSR_VERSION = '0.1.0';

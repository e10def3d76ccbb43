/** Tiled inference: upscale images of any size with bounded memory and seamless blending. */
export { upscale, tileStarts, axisWeights, type FloatImage, type UpscaleModel, type UpscaleOptions } from './tiles.js';

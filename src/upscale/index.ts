/** Tiled inference: upscale images of any size with bounded memory and seamless blending. */
export {
  upscale,
  upscaleTiles,
  modelRunner,
  tileStarts,
  tileCount,
  axisWeights,
  type FloatImage,
  type TileOptions,
  type TileRunner,
  type UpscaleModel,
  type UpscaleOptions,
} from './tiles.js';

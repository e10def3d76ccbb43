/** Tiled inference: upscale images of any size with bounded memory and seamless blending. */
export {
  upscale,
  upscaleTiles,
  upscaleBands,
  modelRunner,
  tileStarts,
  tileCount,
  axisWeights,
  type FloatImage,
  type TileSource,
  type RowSink,
  type BandsResult,
  type TileOptions,
  type TileRunner,
  type UpscaleModel,
  type UpscaleOptions,
} from './tiles.js';

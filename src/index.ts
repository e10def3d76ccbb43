/** otsr: unpaired image super-resolution with neural optimal transport. */
export { initBackend, type BackendName } from './engine/backend.js';
export {
  DataParallel,
  defaultWorkers,
  siblingModule,
  type DataParallelOptions,
  type ParallelStep,
  type ParallelTask,
  type ParallelState,
  type TaskSpec,
} from './engine/parallel/index.js';
export { OtsrError, UsageError, InputError, CancelledError } from './errors.js';
export * from './nn/index.js';
export { saveModel, loadModel } from './nn/serialize-node.js';
export { writeFileAtomic, writeFolderAtomic } from './util/atomic-write.js';
export { OTSR_VERSION } from './version.js';

// Images and data. Decoding, encoding and folders use sharp and node:fs (Node only); resize and
// upsampleBicubic are plain JS / TF.js and run anywhere.
export {
  readImage,
  readImageInfo,
  decodeImage,
  writeImage,
  encodeImage,
  toFloat,
  fromFloat,
  imageToTensor,
  tensorToImage,
  DEFAULT_MAX_PIXELS,
  type RgbImage,
  type FloatImage,
  type ImageInfo,
  type ReadOptions,
  type WriteOptions,
} from './image/io.js';
export { resizeBicubic, cubic, type BicubicKernel, type ResizeOptions } from './image/resize.js';
export { upsampleBicubic } from './image/resize-tensor.js';
export { degradePaths, degradeImage } from './image/degrade.js';
export { degradeFloat, degradeRgb, gaussianBlur, type DegradeOptions, type JpegRoundTrip } from './image/degrade-float.js';
export { listImages, listImageFolders, IMAGE_EXTENSIONS } from './data/folder.js';
export { ImageCache, DEFAULT_CACHE_BYTES, type ImageCacheOptions } from './data/cache.js';
export { ImageFolderSampler, type ImageFolderSamplerOptions, type ImageFolderSamplerState } from './data/image-folder.js';
export { openUnpairedFolders, type UnpairedFolders, type UnpairedFoldersOptions } from './data/unpaired.js';
export { PairedFolders, alignedCrops, type ImagePair, type LoadedPair } from './data/paired.js';
export { ImageArraySampler, type ImageArraySamplerOptions, type ImageArraySamplerState } from './data/image-array.js';
export type { Sampler } from './data/sampler.js';

// Neural optimal transport: costs, problems, solvers.
export * from './ot/index.js';

// Training, inference and metrics (Node: they read and write files).
export { train, type TrainOptions, type TrainResult } from './train/train.js';
export { DEFAULT_TRAIN_CONFIG, MAP_PRESETS, POTENTIAL_PRESETS, type TrainConfig } from './train/config.js';
export { writeRunReport } from './train/report.js';
export { saveCheckpoint, loadCheckpoint, type Checkpoint } from './train/checkpoint.js';
export * from './upscale/index.js';
export { loadUpscaler, tfjsUpscaler, DEFAULT_ENGINE, type Upscaler, type UpscalerSource, type LoadUpscalerOptions } from './upscale/upscaler-node.js';
export { OnnxRunner, ENGINES, ONNX_RANGES, type Engine, type OnnxRange, type OnnxRunnerOptions } from './upscale/onnx-node.js';
export { upscaleFiles, upscaleRgb, planOutputs, type UpscaleFilesOptions } from './upscale/files-node.js';
export { TilePool, type TilePoolOptions } from './upscale/tile-pool-node.js';
export * from './metrics/index.js';
export { runDemo, type DemoOptions, type DemoResult } from './demo/demo.js';
export { RateMeter, type ProgressEvent } from './util/progress.js';
export { Rng } from './util/rng.js';

// The web page's pieces usable from code: the in-memory training session and the page's server.
export { WebTrainer, WEB_TRAIN_DEFAULTS, type WebTrainOptions, type NamedImages } from './web/trainer.js';
export { startServer, type ServeOptions, type RunningServer } from './web/server.js';
export { zipStore, crc32 } from './util/zip.js';

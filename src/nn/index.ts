/** otsr's networks and model format, browser-safe (the Node folder loader is in serialize-node.ts). */
export { Module, type ArchSpec, heNormal, torchDefaultUniform } from './module.js';
export { Mlp, type MlpOptions } from './mlp.js';
export { Edsr, EDSR_SCALES, type EdsrOptions, type EdsrScale, type Upsampler } from './edsr.js';
export { Critic, type CriticOptions } from './critic.js';
export { Unet, type UnetOptions } from './unet.js';
export { pixelShuffle } from './ops.js';
export { buildModule, MODULE_KINDS, type BuildOptions, type ModuleKind } from './registry.js';
export {
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  MODEL_JSON,
  SHARD_BYTES,
  makeManifest,
  encodeModel,
  decodeModel,
  loadModelFromUrl,
  loadModelFromFiles,
  type OtsrManifest,
  type OtsrManifestInput,
  type ModelJson,
  type ModelSource,
  type LoadedModel,
} from './serialize.js';
export { exportOnnx, onnxMetadata, ONNX_META, ONNX_OPSET, ONNX_EXPORT_KINDS, ONNX_EXPORT_RANGE } from './onnx-export.js';

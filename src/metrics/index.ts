/**
 * Image quality and distribution metrics: PSNR/SSIM on paired images, an LPIPS-style perceptual distance on the
 * MobileNetV2 shipped with nsfwjs ("perceptual (otsr features)": never comparable with published LPIPS), and
 * FID/KID between sets of images in the feature space of the InceptionV3 shipped with nsfwjs ("FID (otsr
 * features)": never comparable with published FIDs).
 */
export { psnr, ssim, quantizeSigned, type RgbImage, type QualityOptions } from './quality.js';
export { frechetDistance, kernelInceptionDistance, type FeatureSet, type KidOptions, type KidResult } from './fid.js';
export {
  InceptionFeatureNet,
  loadNsfwjsInceptionSource,
  FEATURE_DIM,
  FEATURE_LAYER,
  INCEPTION_SIZE,
  type InceptionSource,
} from './inception.js';
export {
  PerceptualNet,
  perceptualDistance,
  loadNsfwjsMobileNetSource,
  PERCEPTUAL_LAYERS,
  PERCEPTUAL_LABEL,
  PERCEPTUAL_MIN_SIZE,
} from './perceptual.js';
export { KerasGraph, loadNsfwjsModelSource, type KerasModelSource, type NsfwjsModel } from './keras-graph.js';
export {
  bootstrapFeatureDistances,
  frechetFromGrams,
  kidFromGrams,
  type BootstrapOptions,
  type BootstrapResult,
  type Grams,
  type WeightedRows,
} from './bootstrap.js';
export { DENSE_STRIDE, gridOffsets, coverOffsets } from './features.js';
export { inceptionFeatures, unitRgbTensor, imageFeatures, inceptionInputs, type FeatureMode, type FeatureOptions } from './features.js';
export { symmetricEigen, sqrtmPsd } from './linalg.js';

/**
 * Image quality and distribution metrics: PSNR/SSIM on paired images, and FID/KID between sets of images in
 * the feature space of the InceptionV3 shipped with nsfwjs ("FID (otsr features)": never comparable with
 * published FIDs).
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
export { inceptionFeatures, imageFeatures, inceptionInputs, type FeatureMode, type FeatureOptions } from './features.js';
export { symmetricEigen, sqrtmPsd } from './linalg.js';

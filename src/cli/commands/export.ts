import { Command } from 'commander';
import { initBackend } from '../../engine/backend.js';
import { upsampleBicubic } from '../../image/resize-tensor.js';
import { ONNX_OPSET, exportOnnx } from '../../nn/onnx-export.js';
import { loadModel } from '../../nn/serialize-node.js';
import { writeFileAtomic } from '../../util/atomic-write.js';

export function exportCommand(): Command {
  return new Command('export')
    .description(
      `Export an otsr map (EDSR or UNet model folder) as an ONNX model (opset ${ONNX_OPSET}) for ONNX Runtime, chaiNNer and other tools: ` +
        'input [N, 3, H, W] float32 RGB in [0, 1], output [N, 3, sH, sW] in [0, 1], any N, H, W',
    )
    .argument('<model>', "an otsr model folder (from 'otsr train') or its model.json")
    .requiredOption('-o, --out <file>', 'the .onnx file to write (atomically)')
    .action(async (modelDir: string, o: { out: string }) => {
      // Only the weights are read: the plain JS backend loads them as fast as any.
      await initBackend('cpu', { gradients: false });
      // The bicubic skip is exported as an ONNX Resize; the TF.js upsampler is only needed to build the module.
      const loaded = await loadModel(modelDir, { upsampler: upsampleBicubic });
      try {
        const bytes = await exportOnnx(loaded.module, loaded.manifest);
        await writeFileAtomic(o.out, bytes);
        const scale = loaded.manifest.scale ?? 1;
        process.stdout.write(
          `${String(loaded.arch.kind)} x${scale}, ${loaded.module.parameterCount()} parameters -> ${o.out} ` +
            `(${(bytes.byteLength / 1e6).toFixed(2)} MB, ONNX opset ${ONNX_OPSET}, NCHW RGB float32 in [0, 1])\n`,
        );
      } finally {
        loaded.module.dispose();
      }
    });
}

import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * A hand-assembled ONNX super-resolution model as a user's exported PyTorch one would look: input `lr`
 * [N, 3, H, W] float32 in [0, range], output `sr` = nearest-neighbour upscaling x`scale` + `add` (in the model's
 * units, so that a wrong range shows), opset 13. `fixedSide` gives the input a fixed height and width instead.
 */
export function nearestPlusModel(options: { scale: number; add: number; fixedSide?: number }): Uint8Array {
  const { scale, add, fixedSide } = options;
  const float = onnx.TensorProto.DataType.FLOAT;
  const floats = (name: string, values: number[]) => ({
    name,
    dims: [values.length],
    dataType: float,
    rawData: new Uint8Array(Float32Array.from(values).buffer),
  });
  const side = (name: string) => (fixedSide === undefined ? { dimParam: name } : { dimValue: fixedSide });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'pytorch',
    graph: {
      name: 'nearest_plus',
      node: [
        { opType: 'Resize', input: ['lr', '', 'scales'], output: ['up'], attribute: [{ name: 'mode', type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode('nearest') }] },
        { opType: 'Add', input: ['up', 'add'], output: ['sr'] },
      ],
      initializer: [floats('scales', [1, 1, scale, scale]), floats('add', [add])],
      input: [{ name: 'lr', type: { tensorType: { elemType: float, shape: { dim: [{ dimParam: 'n' }, { dimValue: 3 }, side('h'), side('w')] } } } }],
      output: [{ name: 'sr', type: { tensorType: { elemType: float } } }],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

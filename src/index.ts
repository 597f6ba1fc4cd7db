// webgen's public API: the same in a page, a Web Worker and Node.

// Models
export { GPT2, loadTokenizer } from './models/gpt2.js';
export type { GPT2Options, WeightDType } from './models/gpt2.js';
export { randomGPT2, gpt2Config, GPT2_SHAPES } from './testing/random_gpt2.js';
export { Generator, randomLatents, slerpLatents, lowerGraph } from './models/gan/generator.js';
export type { GeneratorLoadOptions, GenerateRequest, Program, Step, Value } from './models/gan/generator.js';
export { parseGraph, dcganGraph } from './models/gan/graph.js';
export type { GeneratorGraph, LayerSpec, DenseLayer, ReshapeLayer, ConvTranspose2dLayer, BatchNormLayer, ActivationLayer } from './models/gan/graph.js';
export { imageRgba, toImageData, gridRgba, encodePng } from './models/gan/images.js';
export type { ImageSpec, Rgba, GridOptions } from './models/gan/images.js';

// Generation
export type { GenerateOptions, GenerationPiece, GenerationResult, FinishReason, TokenStepper, TextCodec } from './generation/generate.js';
export { generateStream, generateAll } from './generation/generate.js';
export type { SamplingOptions } from './generation/sampling.js';

// Loaders
export { SafeTensors, writeSafetensors } from './loaders/safetensors.js';
export type { TensorInfo, TensorToWrite } from './loaders/safetensors.js';
export { parseGPT2Config } from './loaders/gpt2_config.js';
export type { GPT2Config } from './loaders/gpt2_config.js';
export { GPT2Tokenizer, TokenizerError } from './loaders/tokenizer.js';
export type { ModelSource, ModelFolder, ProgressCallback } from './loaders/fetch.js';

// Runtime
export { Gpu, navigatorGpu } from './runtime/device.js';
export type { GpuOptions, AdapterDescription, EngineLimits, MemoryStats } from './runtime/device.js';
export { Tensor } from './runtime/tensor.js';
export type { DType } from './runtime/tensor.js';
export { Plan } from './runtime/plan.js';
export * from './errors.js';
export { add } from './kernels/add.js';
export { matmul } from './kernels/matmul/index.js';
export { convTranspose2d, convTransposeOutputSize, kerasSamePadding, weightFromPytorch, weightFromKeras, view4 } from './kernels/conv_transpose2d/index.js';
export type { ConvTransposeOptions, GanActivation, View4 } from './kernels/conv_transpose2d/index.js';
export { scaleShift } from './kernels/scale_shift.js';
export { selfCheck } from './cli/selfcheck.js';
export type { SelfCheckResult } from './cli/selfcheck.js';

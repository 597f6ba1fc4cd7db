// webgen's public API: the same in a page, a Web Worker and Node.

// Models
export { GPT2, loadTokenizer } from './models/gpt2.js';
export type { GPT2Options, WeightDType } from './models/gpt2.js';
export { randomGPT2, gpt2Config, GPT2_SHAPES } from './models/gpt2-random.js';

// Generation
export type { GenerateOptions, GenerationPiece, GenerationResult, FinishReason, TokenStepper, TextCodec } from './runtime/generate.js';
export { generateStream, generateAll } from './runtime/generate.js';
export type { SamplingOptions } from './runtime/sampling.js';

// Loaders
export { SafeTensors, writeSafetensors } from './loaders/safetensors.js';
export type { TensorInfo, TensorToWrite } from './loaders/safetensors.js';
export { parseGPT2Config } from './loaders/gpt2-config.js';
export type { GPT2Config } from './loaders/gpt2-config.js';
export { GPT2Tokenizer, TokenizerError } from './loaders/tokenizer.js';
export type { ModelSource, ModelFolder, ProgressCallback } from './loaders/fetch.js';

// Runtime
export { Gpu, navigatorGpu } from './runtime/device.js';
export type { GpuOptions, AdapterDescription, EngineLimits, MemoryStats } from './runtime/device.js';
export { Tensor } from './runtime/tensor.js';
export type { DType } from './runtime/tensor.js';
export { Plan } from './runtime/plan.js';
export * from './runtime/errors.js';
export { add } from './kernels/add.js';
export { selfCheck } from './runtime/selfcheck.js';
export type { SelfCheckResult } from './runtime/selfcheck.js';

/// <reference types="@webgpu/types" preserve="true" />
// webgen's public API (the `webgen` entry): the same in a page, a Web Worker and Node.
// Kernels and the runtime they are recorded with: `webgen/kernels`. Test and benchmark helpers
// (GPT-2 checkpoints with random weights): `webgen/testing`.

// Models
export { GPT2 } from './models/gpt2.js';
export { loadTokenizer } from './models/gpt2_weights.js';
export type { GPT2Options, GPT2GenerateOptions, WeightDType } from './models/gpt2.js';
export type { GPT2Stepper } from './models/gpt2_stepper.js';
export { Generator } from './models/gan/generator.js';
export type { GeneratorLoadOptions, GenerateRequest } from './models/gan/generator.js';
export { randomLatents, slerpLatents } from './models/gan/latents.js';
export { parseGraph, dcganGraph } from './models/gan/graph.js';
export type {
  GeneratorGraph,
  LayerSpec,
  DenseLayer,
  ReshapeLayer,
  ConvTranspose2dLayer,
  BatchNormLayer,
  ActivationLayer,
  Layout,
} from './models/gan/graph.js';
export { imageRgba, toImageData, gridRgba, encodePng } from './models/gan/images.js';
export type { ImageSpec, Rgba, GridOptions } from './models/gan/images.js';

// The worker engine: the same models in a Web Worker (its script: `webgen/worker`)
export { connectWorker, WorkerEngine, WorkerGPT2, WorkerGenerator, WorkerConversation } from './worker/client.js';
export type { WorkerGPT2Options, WorkerGeneratorOptions, GPT2Info, GeneratorInfo, ConversationState } from './worker/protocol.js';

// Generation
export { generateStream, generateAll } from './generation/generate.js';
export type { GenerateOptions, GenerationPiece, GenerationResult, FinishReason, TokenStepper, TextCodec } from './generation/generate.js';
export { Conversation } from './generation/conversation.js';
export type { ConversationOptions, TurnOptions, TurnResult, ResumableStepper } from './generation/conversation.js';
export { resolveSampling, sampleRow } from './generation/sampling.js';
export type { SamplingOptions, ResolvedSampling } from './generation/sampling.js';

// Loaders
export { SafeTensors, writeSafetensors } from './loaders/safetensors.js';
export type { TensorInfo, TensorToWrite, SafetensorsDType } from './loaders/safetensors.js';
export { CacheApiCache, IndexedDbCache } from './loaders/cache.js';
export type { CacheOption, ModelCache } from './loaders/cache.js';
export { parseGPT2Config } from './loaders/gpt2_config.js';
export type { GPT2Config, GPT2Activation } from './loaders/gpt2_config.js';
export { GPT2Tokenizer } from './loaders/tokenizer.js';
export type { EncodeOptions, StreamDecoder, VocabAndMergesOptions } from './loaders/tokenizer.js';
export type { ModelSource, ModelFolder, HubOptions } from './loaders/fetch.js';
export type { LoadPhase, LoadProgress, ProgressCallback } from './loaders/progress.js';

// Runtime
export { Gpu, navigatorGpu } from './runtime/device.js';
export type { GpuOptions, AdapterDescription, EngineLimits, MemoryStats } from './runtime/device.js';

// Errors
export * from './errors.js';

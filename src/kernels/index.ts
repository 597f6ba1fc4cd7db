/// <reference types="@webgpu/types" preserve="true" />
// The kernel API (the `webgen/kernels` entry): every op webgen's models are built from, for people who
// benchmark kernels or build their own models on the runtime. An op records dispatches into a Plan:
//
//   const plan = new Plan(gpu);
//   await matmul(plan, x, w, y, { layout: 'nk', bias, act: 'gelu_tanh' });
//   plan.submit();
//
// Each op checks its tensors' shapes and dtypes (an OptionError names the tensor at fault) and picks
// its variant for the adapter (the choose* functions say which, for given sizes). `Kernel` objects
// give the WGSL source for given params (`webgen wgsl` prints it).
export { add, addKernel } from './add.js';
export type { AddParams } from './add.js';
export {
  attention,
  attentionKernel,
  attentionSplitKernel,
  attentionCombineKernel,
  chooseAttention,
  SPLIT_CHUNK,
} from './attention/index.js';
export type { AttentionParams, AttentionSplitParams, AttentionOptions, AttentionVariant } from './attention/index.js';
export { conv2d, conv2dKernel, conv2dOutputSize, conv2dWeightFromPytorch, kerasSameConv } from './conv2d/index.js';
export type { Conv2dOptions, Conv2dParams } from './conv2d/index.js';
export { convTranspose2d, convTranspose2dKernel, chooseConvTranspose } from './conv_transpose2d/index.js';
export type { ConvTransposeOptions, ConvTransposeParams, ConvTransposePath } from './conv_transpose2d/index.js';
export { convTransposeOutputSize, kerasSamePadding, padChannels, weightFromKeras, weightFromPytorch } from './conv_transpose2d/weights.js';
export { embedding, embeddingKernel } from './embedding.js';
export type { EmbeddingParams } from './embedding.js';
export { activationWgsl, epilogueParams } from './epilogue.js';
export type { Activation, Epilogue, EpilogueParams } from './epilogue.js';
export { kvStore, kvStoreKernel } from './kv_store.js';
export type { KvCache, KvStoreParams } from './kv_store.js';
export { layerNorm, layerNormKernel } from './layernorm.js';
export type { LayerNormParams } from './layernorm.js';
export { matmul, matmulKernel, chooseMatmul } from './matmul/index.js';
export type { F16Read, MatmulOptions, MatmulParams, MatmulVariant } from './matmul/index.js';
export { gatherCapacity, sample, sampleKernel, samplerMeta } from './sample.js';
export type { SampleParams } from './sample.js';
export { scaleShift, scaleShiftKernel } from './scale_shift.js';
export type { ScaleShiftOptions, ScaleShiftParams } from './scale_shift.js';
export { STEP, UniformStruct, uniformStruct } from './uniform.js';
export type { FieldType, StepValues } from './uniform.js';
export { layoutStrides, view4 } from './view.js';
export type { Strides4, View4 } from './view.js';
export { weightFormat } from './wgsl.js';
export type { WeightFormat } from './wgsl.js';
export { KERNEL_CATALOG, kernelSource } from './catalog.js';
export type { CatalogEntry } from './catalog.js';
// the runtime pieces an op is recorded with
export { Plan } from '../runtime/plan.js';
export type { Binding, Dispatch, Traffic } from '../runtime/plan.js';
export { planReport, formatPlanReport } from '../runtime/report.js';
export type { PlanReport, DispatchRow, CostModel } from '../runtime/report.js';
export type { Kernel, KernelParams } from '../runtime/pipelines.js';
export { Tensor } from '../runtime/tensor.js';
export { ChunkedTensor } from '../runtime/chunked.js';

// Every kernel with named example params: the WGSL a kernel really runs is assembled from templates
// and generated pieces, and this is how to see it. `webgen wgsl KERNEL [--example NAME] [--params
// JSON]` prints it; test/kernels/wgsl.test.ts keeps one snapshot per example in test/kernels/wgsl/.
import { addKernel } from './add.js';
import { attentionCombineKernel, attentionKernel, attentionSplitKernel, SPLIT_CHUNK } from './attention/index.js';
import { conv2dKernel } from './conv2d/index.js';
import { convTranspose2dKernel, type ConvTransposeParams } from './conv_transpose2d/index.js';
import { embeddingKernel } from './embedding.js';
import { epilogueParams } from './epilogue.js';
import { kvStoreKernel } from './kv_store.js';
import { layerNormKernel } from './layernorm.js';
import { matmulGemvKernel, matmulKernel, matmulTiledKernel, type MatmulParams } from './matmul/index.js';
import { sampleKernel } from './sample.js';
import { scaleShiftKernel } from './scale_shift.js';
import { OptionError } from '../errors.js';
import type { Kernel, KernelParams } from '../runtime/pipelines.js';

export interface CatalogEntry {
  readonly kernel: Kernel<any>;
  /** Example params by name; the first is the default. */
  readonly examples: Readonly<Record<string, KernelParams>>;
}

const none = epilogueParams({});
const matmul = (p: Partial<MatmulParams>): MatmulParams => ({
  ...none,
  layout: 'nk',
  weight: 'f32',
  accumulate: false,
  vec4: true,
  rowsPerInvocation: 1,
  workgroupSize: 64,
  ...p,
});
/** tiled.wgsl's params as chooseMatmul gives them: 4 x 4 outputs an invocation, 256 invocations. */
const tiled = (p: Partial<MatmulParams>): MatmulParams => matmul({ rowsPerInvocation: 4, workgroupSize: 256, ...p });
const conv = (p: Partial<ConvTransposeParams>): ConvTransposeParams => ({ ...none, path: 'vec', cg: 2, xVec: true, wg: 64, ...p });

export const KERNEL_CATALOG: Readonly<Record<string, CatalogEntry>> = {
  add: { kernel: addKernel, examples: { default: { workgroupSize: 256 } } },
  layernorm: { kernel: layerNormKernel, examples: { default: { workgroupSize: 64 } } },
  embedding: {
    kernel: embeddingKernel,
    examples: {
      f32: { wte: 'f32', wpe: 'f32', workgroupSize: 64 },
      f16: { wte: 'f16', wpe: 'f16', workgroupSize: 64 },
      'f16-packed': { wte: 'f16packed', wpe: 'f16packed', workgroupSize: 64 },
      // 8-bit rows, dequantized as they are read; wpe stays f32
      q8: { wte: 'q8', wpe: 'f32', workgroupSize: 64 },
    },
  },
  kv_store: { kernel: kvStoreKernel, examples: { default: { workgroupSize: 64 } } },
  attention: { kernel: attentionKernel, examples: { 'gpt2-head64': { headSize: 64, workgroupSize: 64 } } },
  attention_split: { kernel: attentionSplitKernel, examples: { 'gpt2-head64': { headSize: 64, chunk: SPLIT_CHUNK, workgroupSize: 64 } } },
  attention_combine: { kernel: attentionCombineKernel, examples: { 'gpt2-head64': { headSize: 64, workgroupSize: 64 } } },
  matmul: {
    kernel: matmulKernel,
    examples: {
      // GPT-2's decode projections on a software adapter ([N, K] weights, a GEMV), then its MLP with GELU
      'gemv-f32': matmul({ bias: true }),
      'gemv-f16-packed': matmul({ weight: 'f16packed', bias: true }),
      // the QKV projection with ln_1 inside (matmul's norm: each invocation normalizes x as it reads it)
      'gemv-f32-norm': matmul({ bias: true, rowsPerInvocation: 1, normEps: 1e-5 }),
      'prefill-f16-gelu': matmul({ layout: 'kn', weight: 'f16', bias: true, act1: 'gelu_tanh', rowsPerInvocation: 8 }),
      'residual-scalar': matmul({ layout: 'kn', vec4: false, bias: true, accumulate: true, rowsPerInvocation: 4 }),
      // a GAN's first layer: bias, leaky ReLU, then a batch norm as a scale-shift
      'gan-first-layer': matmul({ layout: 'kn', bias: true, act1: 'leaky_relu', slope1: 0.2, post: true, rowsPerInvocation: 8 }),
      // 8-bit weights: a decode projection ([N, K], a GEMV) and a prefill MLP ([K, N], GELU)
      'gemv-q8': matmul({ weight: 'q8', bias: true }),
      'prefill-q8-gelu': matmul({ layout: 'kn', weight: 'q8', bias: true, act1: 'gelu_tanh', rowsPerInvocation: 8 }),
    },
  },
  // the GPU-shaped GEMV (a workgroup shares each reduction over K): GPT-2's QKV projection with its layer
  // norm inside, a residual projection over q8 weights for a batch of two, the MLP in f16 with GELU
  matmul_gemv: {
    kernel: matmulGemvKernel,
    examples: {
      'decode-f32-norm': matmul({ bias: true, normEps: 1e-5 }),
      'decode-q8-residual': matmul({ weight: 'q8', bias: true, accumulate: true, rowsPerInvocation: 2 }),
      'decode-f16-packed-gelu-kn': matmul({ layout: 'kn', weight: 'f16packed', bias: true, act1: 'gelu_tanh' }),
    },
  },
  // the GPU-shaped prefill (workgroup-shared 64 x 64 tiles): GPT-2's MLP with GELU, a residual projection
  // with ragged rows of W, and the LM head over q8 wte
  matmul_tiled: {
    kernel: matmulTiledKernel,
    examples: {
      'prefill-f16-gelu': tiled({ layout: 'kn', weight: 'f16', bias: true, act1: 'gelu_tanh' }),
      'ragged-f16-packed-residual': tiled({ layout: 'kn', weight: 'f16packed', vec4: false, bias: true, accumulate: true }),
      'head-q8': tiled({ weight: 'q8', vec4: false }),
    },
  },
  conv_transpose2d: {
    kernel: convTranspose2dKernel,
    examples: {
      'vec-relu': conv({ act1: 'relu' }),
      'vec-c4-tanh': conv({ cg: 1, xVec: false, act1: 'tanh' }),
      'regs-bn-post': conv({ path: 'regs', cg: 0, xVec: false, bias: true, act1: 'leaky_relu', slope1: 0.2, post: true }),
      'direct-tanh': conv({ path: 'direct', cg: 0, xVec: false, act1: 'tanh' }),
    },
  },
  // an upsample-and-convolve generator's layer: nearest upsampling read on the fly, bias, ReLU, then a batch norm
  conv2d: { kernel: conv2dKernel, examples: { 'bias-relu-bn': { ...none, bias: true, act1: 'relu', post: true, wg: 64 } } },
  scale_shift: { kernel: scaleShiftKernel, examples: { 'bn-leaky': { ...none, post: true, act2: 'leaky_relu', slope2: 0.2, wg: 256 } } },
  sample: { kernel: sampleKernel, examples: { 'gpt2-vocab': { vocabSize: 50257, workgroupSize: 256, cap: 1024 } } },
};

/** The WGSL of `kernel` for an example's params, with `overrides` merged over them. */
export function kernelSource(
  kernel: string,
  example?: string,
  overrides: KernelParams = {},
): { source: string; params: KernelParams; constants?: Record<string, number> } {
  const entry = KERNEL_CATALOG[kernel];
  if (!entry) throw new OptionError(`no kernel "${kernel}"; kernels: ${Object.keys(KERNEL_CATALOG).join(', ')}`);
  const names = Object.keys(entry.examples);
  const name = example ?? names[0];
  const base = entry.examples[name];
  if (!base) throw new OptionError(`kernel "${kernel}" has no example "${name}"; examples: ${names.join(', ')}`);
  const params = { ...base, ...overrides };
  return { source: entry.kernel.source(params), params, constants: entry.kernel.constants?.(params) };
}

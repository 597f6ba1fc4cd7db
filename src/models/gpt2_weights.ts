// GPT-2's weights, from files to GPU buffers: where they are in a model folder (one file or shards),
// the tokenizer beside them, and the upload of every tensor, planned from the safetensors header and
// checked against the config before any data is read (so a streamed file can upload in file order).
// A matrix may be stored as floats or 8-bit (`<name>.q8` + `<name>.scale`, loaders/q8.ts); either is
// uploaded in any dtype: quantized at load for 'q8', dequantized for 'f32' / 'f16'.
import { ModelFormatError } from '../errors.js';
import { fileIn, folderHas, readText, type ModelFolder, type ModelSource, type ReadOptions } from '../loaders/fetch.js';
import type { GPT2Config } from '../loaders/gpt2_config.js';
import { Q8_METADATA, Q8_SCALES, Q8_VALUES } from '../loaders/q8.js';
import type { TensorReader, TensorToWrite } from '../loaders/safetensors.js';
import { GPT2Tokenizer } from '../loaders/tokenizer.js';
import { ChunkedTensor } from '../runtime/chunked.js';
import type { Gpu, MemoryWatch } from '../runtime/device.js';
import { f32ArrayToF16 } from '../runtime/half.js';
import { dequantizeQ8, Q8Tensor, q8ScaleShape, quantizeQ8, type Q8Matrix } from '../runtime/q8.js';
import { Tensor } from '../runtime/tensor.js';
import { transpose } from '../util.js';

/**
 * How the weight matrices and embeddings are stored on the GPU: f32, f16, or 'q8' (int8 with an f16
 * scale per 32 values, runtime/q8.ts; wpe, layer norms and biases stay f32).
 */
export type WeightDType = 'f32' | 'f16' | 'q8';

/** A weight matrix on the GPU: f32 or f16, or 8-bit. */
export type Matrix = Tensor | Q8Tensor;

export interface Block {
  ln1: [Tensor, Tensor];
  attnW: Matrix; // [C, 3C], or [3C, C] with layout 'nk'
  attnB: Tensor;
  projW: Matrix; // [C, C]
  projB: Tensor;
  ln2: [Tensor, Tensor];
  fcW: Matrix; // [C, 4C]
  fcB: Tensor;
  fcProjW: Matrix; // [4C, C]
  fcProjB: Tensor;
}

export interface Weights {
  /** Layout of attnW, projW, fcW and fcProjW. */
  layout: 'kn' | 'nk';
  wte: ChunkedTensor | Q8Tensor; // [V, C], also the tied LM head
  wpe: Tensor; // [P, C]
  blocks: Block[];
  lnf: [Tensor, Tensor];
  head: ChunkedTensor | Q8Tensor; // [V, C]: wte, or lm_head.weight when the checkpoint has one
}

/** 'q8' when the checkpoint's matrices are stored 8-bit (a file `webgen quantize` wrote), else undefined. */
export function storedDType(st: Pick<TensorReader, 'has'>): WeightDType | undefined {
  return st.has('wte.weight' + Q8_VALUES) || st.has('transformer.wte.weight' + Q8_VALUES) ? 'q8' : undefined;
}

/** A matrix as a file holds it, read in whichever form the upload wants. */
interface MatrixSource {
  f32(): Float32Array;
  f16Bits(): Uint16Array;
  /** Int8 values and scales along the reduction axis: as stored, or quantized now. */
  q8(): Q8Matrix;
}

/** The GPT-2 tokenizer in a model folder: vocab.json + merges.txt, else tokenizer.json, else none. */
export async function loadTokenizer(folder: ModelFolder, read: ReadOptions = {}): Promise<GPT2Tokenizer | undefined> {
  const [vocab, merges] = await Promise.all([folderHas(folder, 'vocab.json', read), folderHas(folder, 'merges.txt', read)]);
  if (vocab && merges) {
    const [v, m] = await Promise.all([readText(fileIn(folder, 'vocab.json')!, read), readText(fileIn(folder, 'merges.txt')!, read)]);
    return GPT2Tokenizer.fromVocabAndMerges(v.text, m.text);
  }
  if (await folderHas(folder, 'tokenizer.json', read))
    return GPT2Tokenizer.fromTokenizerJson((await readText(fileIn(folder, 'tokenizer.json')!, read)).text);
  return undefined;
}

/** The folder's weights: `file` if given, else model.safetensors, else the index of a sharded checkpoint. */
export async function findWeights(
  folder: ModelFolder,
  file: string | undefined,
  read: ReadOptions,
): Promise<{ file: ModelSource } | { index: ModelSource }> {
  const single = file ?? 'model.safetensors';
  if (file !== undefined || (await folderHas(folder, single, read))) {
    const src = fileIn(folder, single);
    if (src === undefined) throw new ModelFormatError(`model folder has no ${single}`);
    return { file: src };
  }
  const index = 'model.safetensors.index.json';
  if (await folderHas(folder, index, read)) return { index: fileIn(folder, index)! };
  throw new ModelFormatError(`model folder has neither ${single} nor ${index}`);
}

/**
 * The upload of every weight tensor, planned from the header alone: each tensor is checked against the
 * config (presence, shape, dtype) before any data is read, and gets an action that uploads it from a
 * reader holding it. Actions run in any order (a streamed file hands tensors over in file order);
 * tensors made are pushed to `made`.
 */
export function planWeights(
  gpu: Gpu,
  st: Pick<TensorReader, 'fileName' | 'has' | 'info'>,
  cfg: GPT2Config,
  dtype: WeightDType,
  layout: 'kn' | 'nk',
  made: { dispose(): void }[],
): { actions: Map<string, (r: TensorReader) => void>; weights(): Weights } {
  const { nLayer, nEmbd: C, nPositions: P, vocabSize: V, nInner: F } = cfg;
  // Some exports prefix every name with "transformer." (GPT2LMHeadModel); lm_head.weight never is.
  const prefix = st.has('transformer.wte.weight') || st.has('transformer.wte.weight' + Q8_VALUES) ? 'transformer.' : '';
  const actions = new Map<string, (r: TensorReader) => void>();
  const fail = (msg: string): never => {
    throw new ModelFormatError(`${st.fileName}: ${msg}`);
  };
  /** Checks a tensor of the header: present, of `shape`, of one of `dtypes`. */
  const check = (full: string, shape: readonly number[], dtypes: readonly string[], what: string) => {
    if (!st.has(full)) fail(`tensor "${full}" is missing (expected shape [${shape.join(', ')}])`);
    const t = st.info(full);
    if (t.shape.join() !== shape.join())
      fail(`tensor "${full}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}] from the config`);
    if (!dtypes.includes(t.dtype)) fail(`tensor "${full}" has dtype ${t.dtype}, expected ${what}`);
  };
  /**
   * Plans tensor `name`: `make` builds it on the GPU from its source once every tensor it is stored in
   * has arrived (a float tensor, or an 8-bit matrix's values and scales, quantized along `axis`).
   */
  const plan = <T extends { dispose(): void }>(
    name: string,
    shape: number[],
    make: (m: MatrixSource, full: string) => T,
    set: (t: T) => void,
    axis?: 0 | 1,
  ) => {
    const full = name === 'lm_head.weight' ? name : prefix + name;
    const stored8 = axis !== undefined && !st.has(full) && st.has(full + Q8_VALUES);
    const names = stored8 ? [full + Q8_VALUES, full + Q8_SCALES] : [full];
    if (stored8) {
      check(names[0], shape, ['I8'], 'I8 (8-bit values)');
      check(names[1], q8ScaleShape(shape[0], shape[1], axis), ['F16'], 'F16 (8-bit scales)');
    } else check(full, shape, ['F32', 'F16', 'BF16', 'F64'], 'a float type');
    const got = new Map<string, TensorReader>(); // readers of the tensors that have arrived
    const source = (): MatrixSource => {
      if (!stored8) {
        const r = got.get(full)!;
        return {
          f32: () => r.f32(full),
          f16Bits: () => r.f16Bits(full),
          q8: () => quantizeQ8(r.f32(full), shape[0], shape[1], axis!, full),
        };
      }
      const raw = got.get(names[0])!.raw(names[0]);
      const m: Q8Matrix = {
        rows: shape[0],
        cols: shape[1],
        axis: axis!,
        q: new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength),
        scales: got.get(names[1])!.f16Bits(names[1]),
      };
      return { f32: () => dequantizeQ8(m), f16Bits: () => f32ArrayToF16(dequantizeQ8(m)), q8: () => m };
    };
    for (const n of names)
      actions.set(n, (r) => {
        got.set(n, r);
        if (got.size < names.length) return;
        const made_ = make(source(), full);
        got.clear();
        made.push(made_);
        set(made_);
      });
  };
  const values = (m: MatrixSource) => (dtype === 'f16' ? m.f16Bits() : m.f32());
  const floatDType = dtype === 'f16' ? 'f16' : 'f32'; // wpe with 8-bit matrices stays f32
  const small = (name: string, shape: number[], set: (t: Tensor) => void) =>
    plan(name, shape, (m, full) => Tensor.from(gpu, m.f32(), shape, 'f32', full), set);
  const matrix = (name: string, shape: [number, number], set: (t: Tensor) => void) =>
    plan(name, shape, (m, full) => Tensor.from(gpu, floatDType === 'f16' ? m.f16Bits() : m.f32(), shape, floatDType, full), set, 1);
  /** A Conv1D weight, stored [in, out]; transposed to [out, in] for layout 'nk'. */
  const conv1d = (name: string, [K, N]: [number, number], set: (t: Matrix) => void) =>
    dtype === 'q8'
      ? plan(name, [K, N], (m, full) => Q8Tensor.from(gpu, m.q8(), layout, full), set, 0)
      : layout === 'kn'
        ? plan(name, [K, N], (m, full) => Tensor.from(gpu, values(m), [K, N], dtype, full), set, 0)
        : plan(name, [K, N], (m, full) => Tensor.from(gpu, transpose(values(m), K, N), [N, K], dtype, full), set, 0);
  /** An embedding or Linear weight [rows, C]: split by rows as the limits require; 8-bit rows along C. */
  const chunked = (name: string, shape: [number, number], set: (t: ChunkedTensor | Q8Tensor) => void) =>
    dtype === 'q8'
      ? plan(name, shape, (m, full) => Q8Tensor.from(gpu, m.q8(), 'nk', full), set, 1)
      : plan(name, shape, (m, full) => ChunkedTensor.from(gpu, values(m), shape[0], shape[1], dtype, full), set, 1);

  const w: Partial<Weights> = { layout };
  const blocks = Array.from(
    { length: nLayer },
    () => ({ ln1: [], ln2: [] }) as unknown as Omit<Partial<Block>, 'ln1' | 'ln2'> & { ln1: Tensor[]; ln2: Tensor[] },
  );
  const lnf: Tensor[] = [];
  chunked('wte.weight', [V, C], (t) => (w.wte = t));
  matrix('wpe.weight', [P, C], (t) => (w.wpe = t));
  for (let l = 0; l < nLayer; l++) {
    const p = `h.${l}.`;
    const b = blocks[l];
    ((b.ln1 = []), (b.ln2 = []));
    small(p + 'ln_1.weight', [C], (t) => (b.ln1[0] = t));
    small(p + 'ln_1.bias', [C], (t) => (b.ln1[1] = t));
    conv1d(p + 'attn.c_attn.weight', [C, 3 * C], (t) => (b.attnW = t));
    small(p + 'attn.c_attn.bias', [3 * C], (t) => (b.attnB = t));
    conv1d(p + 'attn.c_proj.weight', [C, C], (t) => (b.projW = t));
    small(p + 'attn.c_proj.bias', [C], (t) => (b.projB = t));
    small(p + 'ln_2.weight', [C], (t) => (b.ln2[0] = t));
    small(p + 'ln_2.bias', [C], (t) => (b.ln2[1] = t));
    conv1d(p + 'mlp.c_fc.weight', [C, F], (t) => (b.fcW = t));
    small(p + 'mlp.c_fc.bias', [F], (t) => (b.fcB = t));
    conv1d(p + 'mlp.c_proj.weight', [F, C], (t) => (b.fcProjW = t));
    small(p + 'mlp.c_proj.bias', [C], (t) => (b.fcProjB = t));
  }
  small('ln_f.weight', [C], (t) => (lnf[0] = t));
  small('ln_f.bias', [C], (t) => (lnf[1] = t));
  // The attn.bias / attn.masked_bias buffers real checkpoints carry are masks, not weights: ignored.
  if (st.has('lm_head.weight') || st.has('lm_head.weight' + Q8_VALUES)) chunked('lm_head.weight', [V, C], (t) => (w.head = t));
  return {
    actions,
    weights: () => ({ ...(w as Weights), head: w.head ?? w.wte!, blocks: blocks as Block[], lnf: lnf as [Tensor, Tensor] }),
  };
}

/** Uploads every tensor of a reader holding them all (the whole file in memory, or shards). */
export async function uploadWeights(
  gpu: Gpu,
  st: TensorReader,
  cfg: GPT2Config,
  dtype: WeightDType,
  layout: 'kn' | 'nk',
  made: { dispose(): void }[],
  signal?: AbortSignal,
  watch?: MemoryWatch,
): Promise<Weights> {
  const plan = planWeights(gpu, st, cfg, dtype, layout, made);
  let n = 0;
  for (const [name, upload] of plan.actions) {
    gpu.assertAlive();
    if (watch) watch.run(name, () => upload(st));
    else upload(st);
    if (++n % 12 === 0) {
      // now and then, let an abort through (the caller frees what was uploaded)
      signal?.throwIfAborted();
      await new Promise((r) => setTimeout(r, 0));
    }
  }
  return plan.weights();
}

/** A GPT-2 matrix's quantization axis (its reduction axis) from its name, or undefined for other tensors. */
function q8Axis(name: string): 0 | 1 | undefined {
  if (/(^|\.)(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/.test(name)) return 0; // Conv1D [in, out]
  if (/(^|\.)wte\.weight$/.test(name) || name === 'lm_head.weight') return 1; // [rows, C]
  return undefined;
}

/**
 * A GPT-2 checkpoint with its matrices quantized (`webgen quantize`): each of the four matrices per block,
 * wte and lm_head as `<name>.q8` + `<name>.scale` (loaders/q8.ts); every other tensor copied as it is,
 * in file order. `onTensor` is told each tensor as it is done. A checkpoint already quantized is refused.
 */
export function quantizeCheckpoint(
  st: TensorReader,
  metadata: Readonly<Record<string, string>> = {},
  onTensor?: (name: string) => void,
): { tensors: Record<string, TensorToWrite>; metadata: Record<string, string> } {
  if (storedDType(st) === 'q8') throw new ModelFormatError(`${st.fileName} is already quantized (it holds wte.weight${Q8_VALUES})`);
  const tensors: Record<string, TensorToWrite> = {};
  const names = [...st.tensors.values()].sort((a, b) => a.byteOffset - b.byteOffset).map((t) => t.name);
  for (const name of names) {
    const t = st.info(name);
    const axis = q8Axis(name);
    if (axis !== undefined && t.shape.length === 2 && ['F32', 'F16', 'BF16', 'F64'].includes(t.dtype)) {
      const [rows, cols] = t.shape;
      const m = quantizeQ8(st.f32(name), rows, cols, axis, name);
      tensors[name + Q8_VALUES] = { data: m.q, shape: [rows, cols], dtype: 'I8' };
      tensors[name + Q8_SCALES] = { data: m.scales, shape: q8ScaleShape(rows, cols, axis), dtype: 'F16' };
    } else {
      tensors[name] = { data: st.raw(name), shape: t.shape, dtype: t.dtype };
    }
    onTensor?.(name);
  }
  return { tensors, metadata: { ...metadata, ...Q8_METADATA } };
}

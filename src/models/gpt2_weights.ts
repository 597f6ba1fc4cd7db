// GPT-2's weights, from files to GPU buffers: where they are in a model folder (one file or shards),
// the tokenizer beside them, and the upload of every tensor, planned from the safetensors header and
// checked against the config before any data is read (so a streamed file can upload in file order).
import { ModelFormatError } from '../errors.js';
import { fileIn, folderHas, readText, type ModelFolder, type ModelSource, type ReadOptions } from '../loaders/fetch.js';
import type { GPT2Config } from '../loaders/gpt2_config.js';
import type { TensorReader } from '../loaders/safetensors.js';
import { GPT2Tokenizer } from '../loaders/tokenizer.js';
import { ChunkedTensor } from '../runtime/chunked.js';
import type { Gpu } from '../runtime/device.js';
import { Tensor } from '../runtime/tensor.js';
import { transpose } from '../util.js';

export type WeightDType = 'f32' | 'f16';

export interface Block {
  ln1: [Tensor, Tensor];
  attnW: Tensor; // [C, 3C], or [3C, C] with layout 'nk'
  attnB: Tensor;
  projW: Tensor; // [C, C]
  projB: Tensor;
  ln2: [Tensor, Tensor];
  fcW: Tensor; // [C, 4C]
  fcB: Tensor;
  fcProjW: Tensor; // [4C, C]
  fcProjB: Tensor;
}

export interface Weights {
  /** Layout of attnW, projW, fcW and fcProjW. */
  layout: 'kn' | 'nk';
  wte: ChunkedTensor; // [V, C], also the tied LM head
  wpe: Tensor; // [P, C]
  blocks: Block[];
  lnf: [Tensor, Tensor];
  head: ChunkedTensor; // [V, C]: wte, or lm_head.weight when the checkpoint has one
}

/** The GPT-2 tokenizer in a model folder: vocab.json + merges.txt, else tokenizer.json, else none. */
export async function loadTokenizer(folder: ModelFolder, read: ReadOptions = {}): Promise<GPT2Tokenizer | undefined> {
  const [vocab, merges] = await Promise.all([folderHas(folder, 'vocab.json', read.cache), folderHas(folder, 'merges.txt', read.cache)]);
  if (vocab && merges) {
    const [v, m] = await Promise.all([readText(fileIn(folder, 'vocab.json')!, read), readText(fileIn(folder, 'merges.txt')!, read)]);
    return GPT2Tokenizer.fromVocabAndMerges(v.text, m.text);
  }
  if (await folderHas(folder, 'tokenizer.json', read.cache))
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
  if (file !== undefined || (await folderHas(folder, single, read.cache))) {
    const src = fileIn(folder, single);
    if (src === undefined) throw new ModelFormatError(`model folder has no ${single}`);
    return { file: src };
  }
  const index = 'model.safetensors.index.json';
  if (await folderHas(folder, index, read.cache)) return { index: fileIn(folder, index)! };
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
  const prefix = st.has('transformer.wte.weight') ? 'transformer.' : '';
  const actions = new Map<string, (r: TensorReader) => void>();
  const plan = <T extends { dispose(): void }>(
    name: string,
    shape: number[],
    make: (r: TensorReader, full: string) => T,
    set: (t: T) => void,
  ) => {
    const full = name === 'lm_head.weight' ? name : prefix + name;
    if (!st.has(full)) throw new ModelFormatError(`${st.fileName}: tensor "${full}" is missing (expected shape [${shape.join(', ')}])`);
    const t = st.info(full);
    if (t.shape.join() !== shape.join()) {
      throw new ModelFormatError(
        `${st.fileName}: tensor "${full}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}] from the config`,
      );
    }
    if (!['F32', 'F16', 'BF16', 'F64'].includes(t.dtype))
      throw new ModelFormatError(`${st.fileName}: tensor "${full}" has dtype ${t.dtype}, expected a float type`);
    actions.set(full, (r) => {
      const made_ = make(r, full);
      made.push(made_);
      set(made_);
    });
  };
  const values = (r: TensorReader, full: string) => (dtype === 'f16' ? r.f16Bits(full) : r.f32(full));
  const small = (name: string, shape: number[], set: (t: Tensor) => void) =>
    plan(name, shape, (r, full) => Tensor.from(gpu, r.f32(full), shape, 'f32', full), set);
  const matrix = (name: string, shape: [number, number], set: (t: Tensor) => void) =>
    plan(name, shape, (r, full) => Tensor.from(gpu, values(r, full), shape, dtype, full), set);
  /** A Conv1D weight, stored [in, out]; transposed to [out, in] for layout 'nk'. */
  const conv1d = (name: string, [K, N]: [number, number], set: (t: Tensor) => void) =>
    layout === 'kn'
      ? matrix(name, [K, N], set)
      : plan(name, [K, N], (r, full) => Tensor.from(gpu, transpose(values(r, full), K, N), [N, K], dtype, full), set);
  const chunked = (name: string, shape: [number, number], set: (t: ChunkedTensor) => void) =>
    plan(name, shape, (r, full) => ChunkedTensor.from(gpu, values(r, full), shape[0], shape[1], dtype, full), set);

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
  if (st.has('lm_head.weight')) chunked('lm_head.weight', [V, C], (t) => (w.head = t));
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
): Promise<Weights> {
  const plan = planWeights(gpu, st, cfg, dtype, layout, made);
  let n = 0;
  for (const upload of plan.actions.values()) {
    upload(st);
    if (++n % 12 === 0) {
      // now and then, let an abort through (the caller frees what was uploaded)
      signal?.throwIfAborted();
      await new Promise((r) => setTimeout(r, 0));
    }
  }
  return plan.weights();
}

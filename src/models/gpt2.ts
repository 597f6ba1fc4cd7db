// GPT-2, as Hugging Face stores it, on our kernels. Read it top to bottom like the paper's figure:
// load -> weights on the GPU once -> the forward pass recorded as a plan of kernel calls.
import { ContextLengthError, DisposedError, LimitError, ModelFormatError, OptionError, OutOfMemoryError } from '../errors.js';
import {
  generateStream,
  type GenerateOptions,
  type GenerationPiece,
  type GenerationResult,
  type TextCodec,
} from '../generation/generate.js';
import { attention, chooseAttention } from '../kernels/attention/index.js';
import { embedding } from '../kernels/embedding.js';
import type { Activation } from '../kernels/epilogue.js';
import { kvStore, type KvCache } from '../kernels/kv_store.js';
import { layerNorm } from '../kernels/layernorm.js';
import { matmul } from '../kernels/matmul/index.js';
import { STEP } from '../kernels/uniform.js';
import {
  fileIn,
  openSource,
  readJson,
  resolveFolder,
  type ModelFolder,
  type ModelSource,
  type OpenedSource,
  type ReadOptions,
} from '../loaders/fetch.js';
import { streamSafetensors, type StreamStats } from '../loaders/safetensors_stream.js';
import { LoadTracker, type ProgressCallback } from '../loaders/progress.js';
import { parseGPT2Config, type GPT2Activation, type GPT2Config } from '../loaders/gpt2_config.js';
import { CacheApiCache, cacheHas, IndexedDbCache, resolveCache, type CacheOption } from '../loaders/cache.js';
import { ShardedSafeTensors, type TensorReader } from '../loaders/safetensors.js';
import { GPT2Tokenizer } from '../loaders/tokenizer.js';
import { ChunkedTensor } from '../runtime/chunked.js';
import { Q8Tensor } from '../runtime/q8.js';
import { Gpu, type GpuOptions } from '../runtime/device.js';
import { Plan } from '../runtime/plan.js';
import { Tensor } from '../runtime/tensor.js';
import { Conversation, type ConversationOptions } from '../generation/conversation.js';
import { GPT2Stepper } from './gpt2_stepper.js';
import { findWeights, loadTokenizer, planWeights, storedDType, uploadWeights, type WeightDType, type Weights } from './gpt2_weights.js';

export type { WeightDType } from './gpt2_weights.js';

export interface GPT2GenerateOptions extends GenerateOptions {
  /** While another generation runs on this model: wait for it ('queue', default) or reject ('reject'). */
  ifBusy?: 'queue' | 'reject';
}

export interface GPT2Options {
  /**
   * Storage of the weight matrices and embeddings: 'f16' halves memory and bandwidth, 'q8' (int8 with an
   * f16 scale per 32 values) quarters them. Default: the checkpoint's ('q8' for a file `webgen quantize`
   * wrote), else 'f32'. Any checkpoint loads in any dtype (quantized or dequantized at load).
   */
  dtype?: WeightDType;
  /** A device to share; otherwise the model creates one and destroys it in dispose(). */
  gpu?: Gpu;
  gpuOptions?: GpuOptions;
  /** Weights file inside the folder (default model.safetensors, else the shards model.safetensors.index.json names). */
  weightsFile?: string;
  onProgress?: ProgressCallback;
  /** Aborts the load: downloads stop, whatever was uploaded is freed, and load() rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * A download fails (a FetchError naming the URL; whatever was uploaded is freed) when the server sends
   * nothing for this long: no response, or no next bytes. Idle time only: a slow, steady download never
   * trips it. Default 30 000 ms; 0 or Infinity waits forever.
   */
  stallTimeoutMs?: number;
  /**
   * Where the files are kept across page loads: 'cache-api' (the default in pages and workers; streamed),
   * 'indexeddb' (whole files), 'none', or an object with get/put. A cache that fails never fails the load.
   */
  cache?: CacheOption;
  /** Told when the cache could not be read or written (full, refused, missing); the load goes on. */
  onCacheError?: (error: unknown) => void;
  /** Compile the generation pipelines during load (see warmup()). Default false. */
  warmup?: boolean;
  /** For a hub id ("owner/name"): the revision (default 'main'). */
  revision?: string;
  /** For a hub id: the hub's address (default https://huggingface.co). */
  hubHost?: string;
  /**
   * How the Conv1D matrices are laid out on the GPU: 'kn' as stored ([in, out]), or 'nk' transposed at
   * load ([out, in]). 'auto' (default) is 'nk' on every adapter: on CPU adapters each invocation streams
   * its own rows (2-3x faster than 'kn', measured on lavapipe and SwiftShader); with the GPU shapes
   * (`kernels`) a decode GEMV's workgroup reads whole rows, neighbouring invocations neighbouring bytes,
   * four columns a workgroup (192 workgroups for a 768-column matrix; 'kn' reads a row's columns in
   * groups of 32 bytes and launches half as many, a quarter with q8), and the tiled prefill reads either.
   */
  layout?: 'auto' | 'kn' | 'nk';
  /**
   * The kernels' shapes: 'gpu' (decode attention split over the context, many workgroups per head),
   * 'software' (the shapes that suit CPU adapters: one invocation per head, no barriers), or 'auto'
   * (default: by the adapter). Forcing one runs it anywhere: the tests run both on both drivers.
   */
  kernels?: 'auto' | 'gpu' | 'software';
}

/** Activation buffers, sized for `rows` rows (tokens x sequences) at once. */
interface Activations {
  rows: number;
  ids: Tensor; // [rows] u32
  x: Tensor; // [rows, C] the residual stream
  h: Tensor; // [rows, C] layer-norm output
  qkv: Tensor; // [rows, 3C]
  a: Tensor; // [rows, C] attention output
  f: Tensor; // [rows, 4C] MLP hidden
}

const ACT: Record<GPT2Activation, Activation> = { gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh', gelu: 'gelu_erf', relu: 'relu' };

/**
 * What the token stepper (gpt2_stepper.ts) needs of the model, and all it sees of it: GPT2 hands it
 * over privately, so the model's buffers and weights stay its own.
 */
export interface GPT2Core {
  readonly gpu: Gpu;
  readonly config: GPT2Config;
  readonly isDisposed: boolean;
  /** The Step uniform the recorded passes read: {pos0, T, B}. */
  readonly step: GPUBuffer;
  writeStep(pos0: number, T: number, B: number): void;
  /** Checks token ids against the vocabulary and the context; returns their count. */
  checkIds(ids: readonly number[]): number;
  /**
   * Records the forward pass over `rows` rows of `ids` (see GPT2.recordForward) and the LM head of rows
   * [headRow, headRow + headRows) into logits.
   */
  recordForward(
    plan: Plan,
    o: { cache: string; rows: number; batch: number; copies: number; ids: Tensor; headRow: number; headRows: number; logits: Tensor },
  ): Promise<void>;
  /** Frees a named KV cache (a conversation's). */
  releaseCache(name: string): void;
  /** Calls `listener` whenever buffers that recorded plans bind are replaced or freed (drop those plans). */
  onInvalidate(listener: () => void): void;
}

/**
 * The weights' storage dtype: the option, else the checkpoint's ('q8' for a file `webgen quantize`
 * wrote), else f32; a bad option is an OptionError.
 */
function weightDType(options: GPT2Options, st?: Pick<TensorReader, 'has'>): WeightDType {
  const dtype = options.dtype;
  if (dtype !== undefined && dtype !== 'f32' && dtype !== 'f16' && dtype !== 'q8')
    throw new OptionError(`dtype must be 'f32', 'f16' or 'q8', got ${JSON.stringify(dtype)}`);
  return dtype ?? (st && storedDType(st)) ?? 'f32';
}

/** Checks the layout and kernels options before anything is created. */
function checkLayout(options: GPT2Options): void {
  const l = options.layout;
  if (l !== undefined && l !== 'auto' && l !== 'kn' && l !== 'nk')
    throw new OptionError(`layout must be 'auto', 'kn' or 'nk', got ${JSON.stringify(l)}`);
  const k = options.kernels;
  if (k !== undefined && k !== 'auto' && k !== 'gpu' && k !== 'software')
    throw new OptionError(`kernels must be 'auto', 'gpu' or 'software', got ${JSON.stringify(k)}`);
}

/**
 * Makes a set of tensors with `make`: all of them, or (when one cannot be made: out of memory, a lost
 * device) none, the ones already made freed.
 */
function allOrNothing<T>(build: (make: (shape: number[], dtype: 'f32' | 'u32', label: string) => Tensor) => T, gpu: Gpu): T {
  const made: Tensor[] = [];
  try {
    return build((shape, dtype, label) => {
      const t = Tensor.empty(gpu, shape, dtype, label);
      made.push(t);
      return t;
    });
  } catch (e) {
    for (const t of made) t.dispose();
    throw e;
  }
}

const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** "needs about N bytes (M MiB)" for a config, with the f16 figure when loading f32. */
function needs(cfg: GPT2Config, dtype: WeightDType): string {
  const need = GPT2.estimateMemory(cfg, { dtype });
  const f16 = dtype === 'f32' ? `; ${MiB(GPT2.estimateMemory(cfg, { dtype: 'f16' }))} with dtype 'f16'` : '';
  return `the model needs about ${need} bytes (${MiB(need)}) on the GPU: GPT2.estimateMemory${f16}`;
}

/**
 * Refuses, before anything is allocated, a model the device cannot hold: one of its buffers larger than
 * maxBufferSize (a weight matrix, the activations, a KV cache; wte and the LM head are split, so they
 * never are), or an estimate past what the Gpu's memoryBudget leaves.
 */
function checkFits(gpu: Gpu, cfg: GPT2Config, dtype: WeightDType, what: string): void {
  const { nEmbd: C, nPositions: P, nInner: F } = cfg;
  const w = dtype === 'f16' ? 2 : dtype === 'q8' ? 1 : 4;
  const buffers: [string, number][] = [
    ['wpe.weight', P * C * (dtype === 'q8' ? 4 : w)],
    ['attn.c_attn.weight', C * 3 * C * w],
    ['mlp.c_fc.weight', C * F * w],
    ['the MLP activations', P * F * 4],
    ['the qkv activations', P * 3 * C * 4],
    ["a layer's KV cache", P * C * 4],
  ];
  const [name, largest] = buffers.reduce((a, b) => (b[1] > a[1] ? b : a));
  const max = gpu.limits.maxBufferSize;
  if (largest > max)
    throw new LimitError(
      `${what}: its largest buffer (${name}, ${largest} bytes) exceeds this device's maxBufferSize of ${max} bytes; ` +
        `${needs(cfg, dtype)}. Nothing was allocated: use dtype 'f16' or a smaller model`,
    );
  const need = GPT2.estimateMemory(cfg, { dtype });
  const used = gpu.memory().liveBytes;
  const budget = gpu.memoryBudget;
  if (used + need > budget)
    throw new OutOfMemoryError(
      `${what}: ${needs(cfg, dtype)} (weights, activations, one sequence's KV cache), but this Gpu's memoryBudget of ${budget} bytes ` +
        `leaves ${Math.max(0, budget - used)} (${used} in use). Nothing was allocated: use dtype 'f16' or a smaller model, ` +
        'dispose other models, or raise memoryBudget',
    );
}

/** The kernels' shapes on this device: 'auto' is 'software' on software adapters, 'gpu' elsewhere. */
function resolveKernels(options: GPT2Options, gpu: Gpu): 'gpu' | 'software' {
  const k = options.kernels ?? 'auto';
  return k === 'auto' ? (gpu.isSoftware ? 'software' : 'gpu') : k;
}

/** The Conv1D matrices' layout: 'auto' is 'nk' (see GPT2Options.layout). */
function resolveLayout(options: GPT2Options): 'kn' | 'nk' {
  return options.layout === undefined || options.layout === 'auto' ? 'nk' : options.layout;
}

export class GPT2 {
  private acts?: Activations;
  private caches = new Map<string, KvCache[]>(); // by owner and batch size
  /** Step uniform {pos0, T, B}: the only thing written before each forward pass. */
  private readonly step: GPUBuffer;
  private disposed = false;
  private stepper_?: GPT2Stepper;
  /** The end of the last generation queued; generations run one after another. */
  private tail: Promise<void> = Promise.resolve();
  /** Generations running or waiting. */
  private pending = 0;
  private readonly invalidated = new Set<() => void>();
  private readonly conversations = new Set<Conversation>();
  /** The kernels' shapes (GPT2Options.kernels, resolved for the device). */
  private kernelShapes: 'gpu' | 'software' = 'software';
  private conversationCount = 0;
  /** How the weights were read when they streamed in: file bytes, the most held at once, the largest tensor. */
  loadStats?: StreamStats;
  /** The tokenizer found beside the weights (vocab.json + merges.txt, or tokenizer.json), if any. */
  tokenizer?: GPT2Tokenizer;

  private constructor(
    readonly gpu: Gpu,
    private readonly ownsGpu: boolean,
    readonly config: GPT2Config,
    readonly dtype: WeightDType,
    private readonly weights: Weights,
  ) {
    this.step = gpu.uniform(STEP.pack({ pos0: 0, T: 0, B: 0 }), 'gpt2.step');
  }

  /** How the Conv1D matrices lie on the GPU ('kn' as stored, 'nk' transposed; see GPT2Options.layout). */
  get layout(): 'kn' | 'nk' {
    return this.weights.layout;
  }

  /** The kernels' shapes this model records ('gpu' or 'software'; GPT2Options.kernels). */
  get kernels(): 'gpu' | 'software' {
    return this.kernelShapes;
  }

  /** One line per weight tensor on the GPU: name, shape, dtype, and the buffers it was split into. */
  describe(): string {
    const w = this.weights;
    const line = (t: Tensor | ChunkedTensor | Q8Tensor) => {
      const buffers = t instanceof Tensor ? 1 : t.chunks.length;
      return `${t.label} [${t.shape.join(', ')}] ${t.dtype}${buffers > 1 ? ` in ${buffers} buffers` : ''}`;
    };
    const all: (Tensor | ChunkedTensor | Q8Tensor)[] = [
      w.wte,
      w.wpe,
      ...w.blocks.flatMap((b) => Object.values(b).flat() as Tensor[]),
      ...w.lnf,
    ];
    if (w.head !== w.wte) all.push(w.head);
    return all.map(line).join('\n');
  }

  /**
   * Streams the continuation of a prompt (text, or token ids) as pieces of text. One generation runs
   * at a time on a model: a call made while another runs waits for it (first in, first out), or
   * rejects with an OptionError when `ifBusy: 'reject'`. The wait starts at the first next().
   */
  async *generate(
    prompt: string | readonly number[],
    options: GPT2GenerateOptions = {},
  ): AsyncGenerator<GenerationPiece, GenerationResult> {
    const codec = this.codec(typeof prompt !== 'string');
    return yield* this.exclusive(options, () => generateStream(this.stepper, codec, prompt, options));
  }

  /**
   * A dialogue that keeps its KV cache (its own, beside generate()'s): each `say()` runs only the new
   * tokens through the model. See generation/conversation.ts for what a turn keeps and `onFull`.
   * Turns queue with generate() calls; dispose() the conversation to free its cache.
   */
  conversation(options: ConversationOptions = {}): Conversation {
    if (this.disposed) throw new DisposedError('this GPT2 model was disposed');
    for (const c of this.conversations) if (c.isDisposed) this.conversations.delete(c);
    const stepper = new GPT2Stepper(this.core(), `conversation${++this.conversationCount}`);
    const conversation = new Conversation(
      stepper,
      (idsOnly) => this.codec(idsOnly),
      (o, body) => this.exclusive(o, body),
      options,
    );
    this.conversations.add(conversation);
    return conversation;
  }

  /**
   * Runs `body` when the generations queued before it have finished (first in, first out), or rejects
   * with an OptionError when `ifBusy: 'reject'` and one runs. The wait starts at the first next().
   */
  private async *exclusive<R>(
    options: GPT2GenerateOptions,
    body: () => AsyncGenerator<GenerationPiece, R>,
  ): AsyncGenerator<GenerationPiece, R> {
    const ifBusy = options.ifBusy ?? 'queue';
    if (ifBusy !== 'queue' && ifBusy !== 'reject')
      throw new OptionError(`ifBusy must be 'queue' or 'reject', got ${JSON.stringify(ifBusy)}`);
    if (ifBusy === 'reject' && this.pending > 0) throw new OptionError('a generation is already running on this model (ifBusy: "reject")');
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    this.pending++;
    try {
      await previous;
      options.signal?.throwIfAborted();
      if (this.disposed) throw new DisposedError('this GPT2 model was disposed');
      this.gpu.assertAlive(); // a lost device: a DeviceLostError that says to load the model again
      return yield* body();
    } catch (e) {
      throw this.gpu.explain(e);
    } finally {
      this.pending--;
      release();
    }
  }

  /**
   * Compiles every pipeline generation uses (a prompt's forward pass, a decode step, the LM head and
   * the sampler) by generating two tokens from a three-token prompt and one from a two-token prompt, so
   * the first real generate() pays no compilation (on some GPUs seconds). Also a load option: `warmup: true`.
   */
  async warmup(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.complete([0, 0, 0], { maxNewTokens: 2, stopAtEos: false, greedy: true, signal: options.signal });
    // a prompt of two tokens is a GEMV of two rows (its own pipelines; one row is a decode step's)
    await this.complete([0, 0], { maxNewTokens: 1, stopAtEos: false, greedy: true, signal: options.signal });
  }

  /** Generates to the end and returns the texts, ids and timings. */
  async complete(prompt: string | readonly number[], options: GPT2GenerateOptions = {}): Promise<GenerationResult> {
    const it = this.generate(prompt, options);
    for (;;) {
      const r = await it.next();
      if (r.done) return r.value;
    }
  }

  /**
   * The GPU token stepper (prefill/decode plans and the sampler), made on first use: generate() drives
   * it; drive it yourself to step token by token (start, next, end).
   */
  get stepper(): GPT2Stepper {
    if (this.disposed) throw new DisposedError('this GPT2 model was disposed');
    return (this.stepper_ ??= new GPT2Stepper(this.core()));
  }

  private core(): GPT2Core {
    const lm = this;
    return {
      gpu: this.gpu,
      config: this.config,
      step: this.step,
      get isDisposed() {
        return lm.disposed;
      },
      writeStep: (pos0, T, B) => this.writeStep(pos0, T, B),
      checkIds: (ids) => this.checkIds(ids),
      recordForward: async (plan, o) => {
        const acts = this.activations(Math.max(o.rows, o.batch));
        await this.recordForward(plan, acts, this.cache(o.batch, o.cache), o.rows, this.config.nLayer, false, o.copies, o.ids);
        // logits = LayerNorm_f(x) . wte^T of the head rows: [headRows, V]
        const [gamma, beta] = this.weights.lnf;
        await matmul(plan, acts.x, this.weights.head, o.logits, {
          layout: 'nk',
          xRowOffset: o.headRow,
          rows: o.headRows,
          shape: this.kernelShapes,
          norm: { gamma, beta, eps: this.config.layerNormEpsilon, out: acts.h },
        });
      },
      onInvalidate: (listener) => this.invalidated.add(listener),
      releaseCache: (name) => this.releaseCache(name),
    };
  }

  /** The tokenizer; without one, token-id prompts still work (the result has ids and no text). */
  private codec(idsOnly: boolean): TextCodec {
    if (this.tokenizer) return this.tokenizer;
    if (!idsOnly)
      throw new OptionError(
        'this model has no tokenizer (vocab.json + merges.txt or tokenizer.json beside the weights): give the prompt as token ids or set model.tokenizer',
      );
    return {
      eosTokenId: this.config.eosTokenId,
      encode: () => [],
      decode: () => '',
      createStreamDecoder: () => ({ push: () => '', flush: () => '' }),
    };
  }

  /**
   * Loads a GPT-2 from a folder: a directory path (Node), a URL prefix, a map of file names to sources
   * (dropped Files), or a Hugging Face hub id ("openai-community/gpt2", with `revision` and `hubHost`).
   * The folder holds config.json, model.safetensors (or model.safetensors.index.json and its shards)
   * and the tokenizer files; they are fetched in parallel.
   */
  static async load(source: ModelFolder, options: GPT2Options = {}): Promise<GPT2> {
    const { signal, onCacheError, stallTimeoutMs } = options;
    const progress = new LoadTracker(options.onProgress, typeof source === 'string' ? source : 'model', !!options.warmup);
    const read: ReadOptions = { signal, cache: resolveCache(options.cache), onCacheError, onProgress: progress.file, stallTimeoutMs };
    const folder = await resolveFolder(source, options);
    const cfgSrc = fileIn(folder, 'config.json');
    if (cfgSrc === undefined) throw new ModelFormatError('model folder has no config.json');
    const config = readJson(cfgSrc, read).then(({ json, name }) => parseGPT2Config(json, name));
    const tokenizer = loadTokenizer(folder, read);
    // whichever fails first is the error; the others are not left unhandled
    config.catch(() => undefined);
    tokenizer.catch(() => undefined);
    // a missing folder is best told by its config.json's error
    const weights = await findWeights(folder, options.weightsFile, read).catch(async (e) => {
      await config;
      throw e;
    });
    let lm: GPT2;
    if ('index' in weights) {
      const st = await ShardedSafeTensors.load(weights.index, (f) => fileIn(folder, f), read);
      lm = await GPT2.fromSafetensors(st, await config, options);
    } else {
      lm = await GPT2.fromStream(weights.file, config, options, read, progress);
    }
    try {
      lm.tokenizer = await tokenizer;
      if (options.warmup) {
        progress.compiling();
        await lm.warmup({ signal });
        progress.compileDone();
      }
      signal?.throwIfAborted();
      progress.done();
    } catch (e) {
      lm.dispose();
      throw e;
    }
    return lm;
  }

  /**
   * Uploads a safetensors file as it streams in (tensor by tensor, each checked against the config from
   * the header before any data arrives): the file is never held whole. A cached copy that turns out
   * truncated is dropped and fetched again.
   */
  private static async fromStream(
    file: ModelSource,
    config: Promise<GPT2Config>,
    options: GPT2Options,
    read: ReadOptions,
    progress?: LoadTracker,
  ): Promise<GPT2> {
    let dtype = weightDType(options); // the file's own, for a quantized file without the option: known from its header
    checkLayout(options);
    const gpuReady = options.gpu ? Promise.resolve(options.gpu) : Gpu.create(options.gpuOptions);
    gpuReady.catch(() => undefined);
    const made: { dispose(): void }[] = [];
    let opened: OpenedSource | undefined;
    let gpu: Gpu | undefined;
    try {
      opened = await openSource(file, read);
      gpu = await gpuReady;
      const g = gpu;
      const layout = resolveLayout(options);
      const cfg = await config;
      let plan!: ReturnType<typeof planWeights>;
      let uploaded = 0;
      let toUpload = 0;
      const watch = g.watchMemory();
      const stats = await streamSafetensors(
        opened.chunks,
        opened.name,
        {
          header: (h) => {
            dtype = weightDType(options, h);
            checkFits(g, cfg, dtype, opened!.name); // before anything is allocated
            plan = planWeights(g, h, cfg, dtype, layout, made);
            for (const n of plan.actions.keys()) toUpload += h.info(n).byteLength;
            return plan.actions.keys();
          },
          tensor: (name, r) => {
            read.signal?.throwIfAborted();
            g.assertAlive();
            watch.run(name, () => plan.actions.get(name)!(r));
            uploaded += r.info(name).byteLength;
            progress?.upload(opened!.name, uploaded, toUpload);
          },
        },
        opened.total,
      );
      read.signal?.throwIfAborted();
      await watch.check(`loading ${opened.name} (${needs(cfg, dtype)})`);
      g.assertAlive(); // a device lost during the upload
      const lm = new GPT2(g, !options.gpu, cfg, dtype, plan.weights());
      lm.loadStats = stats;
      lm.kernelShapes = resolveKernels(options, g);
      return lm;
    } catch (err) {
      const e = gpu ? gpu.explain(err) : err;
      opened?.cancel();
      for (const t of made) t.dispose();
      if (!options.gpu)
        await gpuReady.then(
          (g) => g.dispose(),
          () => undefined,
        );
      if (opened?.fromCache && e instanceof ModelFormatError && typeof file === 'string' && read.cache?.delete) {
        // a damaged cache entry: drop it and read the file from its source
        await read.cache.delete(file).catch(() => undefined);
        return GPT2.fromStream(file, config, options, read, progress);
      }
      throw e;
    }
  }

  /** Whether a folder's config and weights are in the cache (so load() fetches nothing large). */
  static async isCached(
    source: ModelFolder,
    options: Pick<GPT2Options, 'cache' | 'weightsFile' | 'revision' | 'hubHost'> = {},
  ): Promise<boolean> {
    const cache = resolveCache(options.cache);
    if (!cache) return false;
    const folder = await resolveFolder(source, options);
    const files = ['config.json', options.weightsFile ?? 'model.safetensors'];
    const urls = files.map((f) => fileIn(folder, f));
    if (urls.some((u) => typeof u !== 'string')) return false;
    return (await Promise.all((urls as string[]).map((u) => cacheHas(cache, u)))).every(Boolean);
  }

  /** Removes a folder's files (or, without one, every model file) from the Cache API cache (or IndexedDB's, with cache: 'indexeddb'). */
  static async clearCache(source?: ModelFolder, options: Pick<GPT2Options, 'revision' | 'hubHost' | 'cache'> = {}): Promise<void> {
    const store = options.cache === 'indexeddb' ? IndexedDbCache : CacheApiCache;
    if (source === undefined) return store.clear();
    const prefix = fileIn(await resolveFolder(source, options), '');
    if (typeof prefix === 'string') await store.clear(prefix);
  }

  /** Uploads the weights of a parsed checkpoint, checking every tensor against the config. */
  static async fromSafetensors(st: TensorReader, config: GPT2Config, options: GPT2Options = {}): Promise<GPT2> {
    const dtype = weightDType(options, st);
    checkLayout(options);
    const gpu = options.gpu ?? (await Gpu.create(options.gpuOptions));
    const made: { dispose(): void }[] = [];
    const layout = resolveLayout(options);
    try {
      checkFits(gpu, config, dtype, st.fileName); // before anything is allocated
      const watch = gpu.watchMemory();
      const weights = await uploadWeights(gpu, st, config, dtype, layout, made, options.signal, watch);
      options.signal?.throwIfAborted();
      await watch.check(`loading ${st.fileName} (${needs(config, dtype)})`);
      gpu.assertAlive();
      const lm = new GPT2(gpu, !options.gpu, config, dtype, weights);
      lm.kernelShapes = resolveKernels(options, gpu);
      return lm;
    } catch (e) {
      const err = gpu.explain(e);
      for (const t of made) t.dispose();
      if (!options.gpu) gpu.dispose();
      throw err;
    }
  }

  /** Logits of every position of `ids` (one sequence): [T, vocab] row-major. */
  async logits(ids: readonly number[]): Promise<Float32Array> {
    const T = this.checkIds(ids);
    const V = this.config.vocabSize;
    const acts = this.activations(T);
    const cache = this.cache(1);
    const body = new Plan(this.gpu, 'gpt2.logits');
    const out: Float32Array = new Float32Array(T * V);
    // LM head in row blocks that fit one binding (T x 50257 floats can exceed it).
    const blockRows = Math.max(1, Math.min(T, Math.floor(this.gpu.limits.maxStorageBufferBindingSize / (V * 4))));
    const block = Tensor.empty(this.gpu, [blockRows, V], 'f32', 'logits');
    try {
      await this.recordForward(body, acts, cache, T, this.config.nLayer);
      acts.ids.write(Uint32Array.from(ids));
      this.writeStep(0, T, 1);
      body.submit();
      for (let r0 = 0; r0 < T; r0 += blockRows) {
        const rows = Math.min(blockRows, T - r0);
        const head = new Plan(this.gpu, 'gpt2.head');
        await matmul(head, acts.h, this.weights.head, block, { layout: 'nk', xRowOffset: r0, rows, shape: this.kernelShapes });
        head.submit();
        head.dispose();
        out.set(new Float32Array(await this.gpu.read(block.buffer, rows * V * 4)), r0 * V);
      }
    } finally {
      body.dispose();
      block.dispose();
    }
    return out;
  }

  /** The residual stream after the embeddings (layer 0) or after block `layer`: [T, C]. For checks. */
  async hidden(ids: readonly number[], layer: number): Promise<Float32Array> {
    const T = this.checkIds(ids);
    if (!Number.isInteger(layer) || layer < 0 || layer > this.config.nLayer)
      throw new OptionError(`hidden: layer must be 0..${this.config.nLayer}`);
    const acts = this.activations(T);
    const plan = new Plan(this.gpu, 'gpt2.hidden');
    try {
      await this.recordForward(plan, acts, this.cache(1), T, layer, false);
      acts.ids.write(Uint32Array.from(ids));
      this.writeStep(0, T, 1);
      plan.submit();
      return new Float32Array(await this.gpu.read(acts.x.buffer, T * this.config.nEmbd * 4));
    } finally {
      plan.dispose();
    }
  }

  /**
   * Records the forward pass over R = T x B rows: row r is token r % T of sequence r / T, at position
   * pos0 + r % T (the Step uniform). Keys and values go to the cache; the final layer norm leaves
   * its output in acts.h, ready for the LM head.
   */
  private async recordForward(
    plan: Plan,
    acts: Activations,
    cache: KvCache[],
    rows: number,
    layers: number,
    finalNorm = true,
    copies = 1,
    ids = acts.ids,
  ): Promise<void> {
    const { nHead, layerNormEpsilon: eps } = this.config;
    const w = this.weights;
    const { x, h, qkv, a, f } = acts;
    const act = ACT[this.config.activation];
    const layout = w.layout;
    const shape = this.kernelShapes;
    // one row per sequence (a decode step): attention split over the context on GPUs, storing the
    // rows' keys and values itself
    const decode = rows === cache[0].k.shape[0] && copies === 1;
    const split = chooseAttention({ isSoftware: this.kernelShapes === 'software' }, { decode }) === 'split';
    const norm = ([gamma, beta]: readonly [Tensor, Tensor]) => ({ gamma, beta, eps, out: h });
    await embedding(plan, ids, w.wte, w.wpe, this.step, x, rows); // x: [R, C]
    for (let l = 0; l < layers; l++) {
      const b = w.blocks[l];
      // qkv = LayerNorm(x) Wqkv (the norm inside the GEMV on GPU shapes, else into h first): [R, 3C]
      await matmul(plan, x, b.attnW, qkv, { layout, bias: b.attnB, rows, shape, norm: norm(b.ln1) });
      if (split) {
        await attention(plan, qkv, cache[l], this.step, a, rows, nHead, { variant: 'split' }); // a: [R, C]; k, v -> cache
      } else {
        await kvStore(plan, qkv, cache[l], this.step, rows, this.config.nEmbd, copies); // k, v -> cache [B, P, C]
        await attention(plan, qkv, cache[l], this.step, a, rows, nHead); // a: [R, C]
      }
      await matmul(plan, a, b.projW, x, { layout, bias: b.projB, accumulate: true, rows, shape }); // x += a Wo
      await matmul(plan, x, b.fcW, f, { layout, bias: b.fcB, act, rows, shape, norm: norm(b.ln2) }); // f = act(LayerNorm(x) Wfc): [R, 4C]
      await matmul(plan, f, b.fcProjW, x, { layout, bias: b.fcProjB, accumulate: true, rows, shape }); // x += f Wp
    }
    if (finalNorm && layers === this.config.nLayer) await layerNorm(plan, x, ...w.lnf, h, eps, rows); // h: [R, C]
  }

  /** Activation buffers for at least `rows` rows; growing them invalidates plans recorded on the old ones. */
  private activations(rows: number): Activations {
    if (this.acts && this.acts.rows >= rows) return this.acts;
    this.disposeActivations();
    this.invalidate(); // plans bound the old buffers, whether or not the new ones can be made
    const { nEmbd: C, nInner } = this.config;
    const R = Math.max(rows, this.config.nPositions);
    this.acts = allOrNothing(
      (make) => ({
        rows: R,
        ids: make([R], 'u32', 'ids'),
        x: make([R, C], 'f32', 'x'),
        h: make([R, C], 'f32', 'h'),
        qkv: make([R, 3 * C], 'f32', 'qkv'),
        a: make([R, C], 'f32', 'attn'),
        f: make([R, nInner], 'f32', 'mlp'),
      }),
      this.gpu,
    );
    return this.acts;
  }

  private invalidate(): void {
    for (const f of this.invalidated) f();
  }

  /**
   * The KV cache for `batch` sequences: per layer, k and v of [batch, n_positions, C]. Generation
   * ('generate') and one-off passes like logits() ('scratch') keep separate caches, so a logits()
   * call in the middle of a generation does not disturb it.
   */
  private cache(batch: number, owner = 'scratch'): KvCache[] {
    const key = `${owner}:${batch}`;
    let c = this.caches.get(key);
    if (!c) {
      const { nLayer, nPositions: P, nEmbd: C } = this.config;
      c = allOrNothing(
        (make) =>
          Array.from({ length: nLayer }, (_, l) => ({ k: make([batch, P, C], 'f32', `k${l}`), v: make([batch, P, C], 'f32', `v${l}`) })),
        this.gpu,
      );
      this.caches.set(key, c);
    }
    return c;
  }

  /**
   * Frees the KV caches of generate() and of one-off passes (re-created on demand; plans recorded on
   * them are dropped). Conversations keep theirs until they are disposed.
   */
  releaseCaches(): void {
    this.invalidate();
    for (const key of [...this.caches.keys()]) if (!key.startsWith('conversation')) this.freeCache(key);
  }

  /** Frees a conversation's cache (every batch size of `owner`). */
  private releaseCache(owner: string): void {
    for (const key of [...this.caches.keys()]) if (key.startsWith(`${owner}:`)) this.freeCache(key);
  }

  private freeCache(key: string): void {
    for (const { k, v } of this.caches.get(key) ?? []) {
      k.dispose();
      v.dispose();
    }
    this.caches.delete(key);
  }

  private writeStep(pos0: number, T: number, B: number): void {
    this.gpu.device.queue.writeBuffer(this.step, 0, STEP.pack({ pos0, T, B }));
  }

  private checkIds(ids: readonly number[]): number {
    const T = ids.length;
    const { nPositions: P, vocabSize: V } = this.config;
    if (T === 0) throw new OptionError('ids: at least one token is needed');
    if (T > P) throw new ContextLengthError(`${T} tokens exceed the model's context of n_positions = ${P}`);
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new OptionError(`ids: token id ${id} is outside the vocabulary (0..${V - 1})`);
    }
    return T;
  }

  /**
   * GPU memory held by this model, in bytes: its weights, activation buffers, KV caches and the
   * sampler's buffers (not other models sharing the device; the few bytes of recorded plans' uniforms
   * aside).
   */
  memoryBytes(): number {
    const w = this.weights;
    const tensors: (Tensor | ChunkedTensor | Q8Tensor)[] = [
      w.wte,
      w.wpe,
      ...w.blocks.flatMap((b) => Object.values(b).flat() as Tensor[]),
      ...w.lnf,
    ];
    if (w.head !== w.wte) tensors.push(w.head);
    if (this.acts) tensors.push(...Object.values(this.acts).filter((t): t is Tensor => t instanceof Tensor));
    for (const c of this.caches.values()) for (const { k, v } of c) tensors.push(k, v);
    const bytes = (t: Tensor | ChunkedTensor | Q8Tensor) =>
      t instanceof ChunkedTensor ? t.chunks.reduce((n, c) => n + c.tensor.byteLength, 0) : t.byteLength;
    let n = tensors.reduce((sum, t) => sum + bytes(t), 0) + (this.stepper_?.memoryBytes() ?? 0);
    for (const c of this.conversations) n += c.memoryBytes();
    return n;
  }

  /**
   * What load() will hold on the GPU for this config, before anything is fetched or uploaded: the
   * weights in `dtype` (layer norms and biases stay f32; with 'q8', wpe too), activations for
   * n_positions rows and one sequence's KV cache. Choose f16 or q8, or refuse, on a small GPU. For 'q8'
   * it counts the int8 values and their f16 scales as packed for `layout` (default 'nk'), exact when wte
   * fits one binding.
   */
  static estimateMemory(config: GPT2Config, options: { dtype?: WeightDType; layout?: 'kn' | 'nk' } = {}): number {
    const { nLayer: L, nEmbd: C, nPositions: P, vocabSize: V, nInner: F } = config;
    const vectors = L * (4 * C + 3 * C + C + F + C) + 2 * C;
    const activations = P * (1 + C + C + 3 * C + C + F);
    const cache = 2 * L * P * C;
    const rest = 4 * (vectors + activations + cache);
    const dtype = options.dtype ?? 'f32';
    if (dtype === 'q8') {
      const layout = options.layout ?? 'nk';
      const q8 = (K: number, N: number, l: 'kn' | 'nk') => Q8Tensor.byteLengthOf(K, N, l);
      const blocks = q8(C, 3 * C, layout) + q8(C, C, layout) + q8(C, F, layout) + q8(F, C, layout);
      return q8(C, V, 'nk') + 4 * P * C + L * blocks + rest;
    }
    const matrices = V * C + P * C + L * (C * 3 * C + C * C + C * F + F * C);
    return matrices * (dtype === 'f16' ? 2 : 4) + rest;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private disposeActivations(): void {
    if (!this.acts) return;
    for (const t of Object.values(this.acts)) if (t instanceof Tensor) t.dispose();
    this.acts = undefined;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.stepper_?.dispose();
    for (const c of this.conversations) c.dispose();
    this.invalidate();
    this.disposeActivations();
    for (const key of [...this.caches.keys()]) this.freeCache(key);
    const w = this.weights;
    w.wte.dispose();
    if (w.head !== w.wte) w.head.dispose();
    w.wpe.dispose();
    for (const t of w.lnf) t.dispose();
    for (const b of w.blocks) for (const t of Object.values(b).flat()) (t as Tensor).dispose();
    this.gpu.destroyBuffer(this.step);
    if (this.ownsGpu) this.gpu.dispose();
  }
}

// A GAN generator: z [count, nz] -> images, as a short list of layers (dense, reshape,
// conv_transpose2d, conv2d, upsample, batch_norm, activations; see graph.ts) over weights from
// safetensors, or from a file Keras saved (keras.ts converts it to the same).
//
//   load:   read the graph (given, generator.json, a Keras file's config, or recognised as the canonical PyTorch DCGAN)
//   lower:  walk the layers once on the CPU into GPU steps, fusing what can be fused (lower.ts)
//   record: per batch size, buffers + one Plan (recorded once, reused for every batch of that size)
//   run:    write z, submit the plan and a copy of the output, map it back
import { conv2d } from '../../kernels/conv2d/index.js';
import { chooseConvTranspose, convTranspose2d } from '../../kernels/conv_transpose2d/index.js';
import { padChannels } from '../../kernels/conv_transpose2d/weights.js';
import type { Epilogue } from '../../kernels/epilogue.js';
import { matmul } from '../../kernels/matmul/index.js';
import { scaleShift } from '../../kernels/scale_shift.js';
import { layoutStrides, type View4 } from '../../kernels/view.js';
import { DisposedError, LimitError, ModelFormatError, OptionError, OutOfMemoryError } from '../../errors.js';
import { resolveCache, type CacheOption } from '../../loaders/cache.js';
import { fileIn, folderHas, readJson, resolveFolder, type ModelFolder, type ModelSource, type ReadOptions } from '../../loaders/fetch.js';
import { LoadTracker, type ProgressCallback } from '../../loaders/progress.js';
import { SafeTensors } from '../../loaders/safetensors.js';
import { Gpu } from '../../runtime/device.js';
import { Plan } from '../../runtime/plan.js';
import { Readback } from '../../runtime/readback.js';
import { Tensor } from '../../runtime/tensor.js';
import { tile } from '../../util.js';
import { dcganGraph, parseGraph, type GeneratorGraph } from './graph.js';
import { isKerasSource, loadKerasGenerator } from './keras.js';
import { encodePng, gridRgba, toImageData, type GridOptions, type ImageSpec, type Rgba } from './images.js';
import { randomLatents, slerpLatents } from './latents.js';
import { lowerGraph, type ConvStep, type Program, type Step, type Value } from './lower.js';

export interface GeneratorLoadOptions {
  /** The layer list (an object or a JSON file); default: generator.json beside the weights, else the canonical DCGAN. */
  graph?: GeneratorGraph | ModelSource;
  /** Run on this device (default: a new one, disposed with the generator). */
  gpu?: Gpu;
  onProgress?: ProgressCallback;
  /** Aborts the load: downloads stop and load() rejects with the signal's reason. */
  signal?: AbortSignal;
  /** A download that receives nothing for this long fails with a FetchError naming the URL (as GPT2Options.stallTimeoutMs; default 30 000 ms). */
  stallTimeoutMs?: number;
  /** Where the files are kept across page loads (as GPT2Options.cache): the Cache API by default in pages. */
  cache?: CacheOption;
  onCacheError?: (error: unknown) => void;
  /** For a hub id ("owner/name"): the revision (default 'main') and the hub's address. */
  revision?: string;
  hubHost?: string;
  /** The largest batch one recorded plan runs (default 64); larger requests are split. Lowered to fit the device's limits. */
  maxBatch?: number;
}

export type GenerateRequest = { count: number; seed?: number } | { z: ArrayLike<number> };

/** Buffers and the recorded plan for one batch size. */
interface Runner {
  readonly batch: number;
  readonly buffers: Tensor[];
  readonly plan: Plan;
  readonly readback: Readback;
}

const isFolderMap = (s: unknown): s is Readonly<Record<string, ModelSource>> =>
  typeof s === 'object' &&
  s !== null &&
  !(s instanceof URL) &&
  !(s instanceof ArrayBuffer) &&
  !(s instanceof Uint8Array) &&
  !(typeof Blob !== 'undefined' && s instanceof Blob);

export class Generator {
  private readonly weights = new Map<Step, { w?: Tensor; bias?: Tensor; post?: Tensor }>();
  private readonly runners = new Map<number, Runner>();
  /** Serialises generate() calls: they share the runners' buffers. */
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  private constructor(
    readonly gpu: Gpu,
    private readonly ownsGpu: boolean,
    readonly graph: GeneratorGraph,
    readonly program: Program,
    /** Samples per plan: the largest batch one dispatch of every step can hold. */
    readonly maxBatch: number,
  ) {}

  /**
   * Loads a generator from a model folder (a directory path, URL prefix or map of file names to
   * sources, holding model.safetensors and optionally generator.json), from a safetensors file, or
   * from a file Keras saved (.keras, or .h5 with its model config; a path, URL, File or bytes): its
   * saved config is the graph (models/gan/keras.ts).
   */
  static async load(source: ModelFolder | ModelSource, options: GeneratorLoadOptions = {}): Promise<Generator> {
    const progress = new LoadTracker(options.onProgress, 'generator');
    const read: ReadOptions = {
      signal: options.signal,
      cache: resolveCache(options.cache),
      onCacheError: options.onCacheError,
      stallTimeoutMs: options.stallTimeoutMs,
    };
    // a file Keras wrote (.keras, .h5): its config is the graph, its weights the tensors
    const keras = (await isKerasSource(source))
      ? await loadKerasGenerator(source as ModelSource, { ...read, onProgress: progress.file })
      : undefined;
    if (!keras && typeof source === 'string' && !/\.safetensors$/i.test(source)) source = await resolveFolder(source, options);
    const asFile =
      !!keras ||
      (typeof source === 'string' && /\.safetensors$/i.test(source)) ||
      (source instanceof URL && /\.safetensors$/i.test(source.pathname)) ||
      !(typeof source === 'string' || source instanceof URL || isFolderMap(source));
    const weightsSource = asFile ? (source as ModelSource) : fileIn(source as ModelFolder, 'model.safetensors');
    if (weightsSource === undefined) throw new ModelFormatError('the model files have no model.safetensors');
    const st = keras?.weights ?? (await SafeTensors.load(weightsSource, { ...read, onProgress: progress.file }));

    let graph: GeneratorGraph | undefined;
    const g = options.graph;
    if (g !== undefined && typeof g === 'object' && 'layers' in g) graph = parseGraph(g, 'options.graph');
    else if (g !== undefined) {
      const { json, name } = await readJson(g as ModelSource, read);
      graph = parseGraph(json, name);
    } else if (keras) {
      graph = keras.graph;
    } else if (!asFile && (await folderHas(source as ModelFolder, 'generator.json', read))) {
      const { json, name } = await readJson(fileIn(source as ModelFolder, 'generator.json')!, read);
      graph = parseGraph(json, name);
    } else {
      graph = dcganGraph(st.tensors, st.fileName);
    }
    if (!graph) {
      throw new ModelFormatError(
        `${st.fileName}: no generator graph: the tensors are not a PyTorch DCGAN (main.{i}.*); put a generator.json ` +
          'beside the weights or pass { graph } (see src/models/gan/graph.ts)',
      );
    }
    const program = lowerGraph(graph, st);
    options.signal?.throwIfAborted();
    const gpu = options.gpu ?? (await Gpu.create());
    let gen: Generator | undefined;
    try {
      const maxBatch = batchLimit(program, gpu, options.maxBatch ?? 64);
      gen = new Generator(gpu, !options.gpu, graph, program, maxBatch);
      await gen.upload(st.fileName);
      options.signal?.throwIfAborted();
      progress.done();
      return gen;
    } catch (e) {
      const err = gpu.explain(e);
      gen?.dispose(); // frees what was uploaded (and a device of its own)
      if (!options.gpu) gpu.dispose();
      throw err;
    }
  }

  /** Latent size. */
  get nz(): number {
    return this.program.nz;
  }

  /** How the output of generate() lies in memory and which values are black and white. */
  get image(): ImageSpec {
    const o = this.program.output;
    return { channels: o.c, height: o.h, width: o.w, layout: o.layout, range: this.program.range };
  }

  /** Values per generated sample. */
  get outputSize(): number {
    const o = this.program.output;
    return o.c * o.h * o.w;
  }

  /** One line per GPU step, with what was folded or fused into it. */
  describe(): string {
    return this.program.steps
      .map((s) => {
        const shape = (v: Value) => (v.h * v.w === 1 ? `${v.c}` : `${v.c}x${v.h}x${v.w}`);
        const what =
          s.kind === 'pointwise'
            ? 'scale_shift'
            : s.dense
              ? 'dense (matmul)'
              : `${s.op}${s.up[0] * s.up[1] > 1 ? ` (input upsampled ${s.up.join('x')})` : ''} k${s.kh}x${s.kw} s${s.stride.join('x')} p${s.pad.join('x')}${viaMatmul(s) ? ' (matmul: 1x1 input)' : ''}`;
        return `${what} ${s.label}: ${shape(s.x)} -> ${shape(s.y)}${s.fused.length ? ' + ' + s.fused.join(' + ') : ''}`;
      })
      .join('\n');
  }

  /**
   * Uploads the weights, each tensor kept as soon as it is made (so dispose() frees a partial upload).
   * Checked before anything is allocated: each weight within one binding, all of them within the Gpu's
   * memoryBudget; after: the device's own out-of-memory errors.
   */
  private async upload(file: string): Promise<void> {
    const limit = this.gpu.limits.maxStorageBufferBindingSize;
    let bytes = 0;
    for (const s of this.program.steps) {
      if (s.kind === 'conv' && s.weight.byteLength > limit) {
        throw new LimitError(
          `weight "${s.label}" takes ${s.weight.byteLength} bytes, more than this device's maxStorageBufferBindingSize (${limit})`,
        );
      }
      if (s.kind === 'conv')
        bytes += s.weight.byteLength + (s.bias?.byteLength ?? 0) * s.kh * s.kw + (s.post?.byteLength ?? 0) * s.kh * s.kw;
      else bytes += s.affine?.byteLength ?? 0;
    }
    const used = this.gpu.memory().liveBytes;
    if (used + bytes > this.gpu.memoryBudget) {
      throw new OutOfMemoryError(
        `${file}: the generator's weights need about ${bytes} bytes on the GPU, but this Gpu's memoryBudget of ${this.gpu.memoryBudget} ` +
          `bytes leaves ${Math.max(0, this.gpu.memoryBudget - used)} (${used} in use). Nothing was allocated: dispose other models, or raise memoryBudget`,
      );
    }
    const watch = this.gpu.watchMemory();
    for (const s of this.program.steps) {
      if (s.kind === 'conv') {
        const [cin, cout] = [s.x.c, s.y.c];
        const taps = s.kh * s.kw;
        const m = viaMatmul(s);
        // as a matmul the output row is [ky, kx, co]: the bias and post repeat once per tap
        const n = m ? taps * cout : cout;
        const t: { w?: Tensor; bias?: Tensor; post?: Tensor } = {};
        this.weights.set(s, t);
        watch.run(s.label, () => {
          t.w = m ? Tensor.from(this.gpu, matmulWeight(s), [cin, n], 'f32', s.label) : this.convWeight(s);
          if (s.bias) t.bias = Tensor.from(this.gpu, tile(s.bias, n / cout), [n], 'f32', `${s.label} bias`);
          if (s.post) t.post = Tensor.from(this.gpu, tilePost(s.post, cout, n / cout), [2, n], 'f32', `${s.label} post`);
        });
      } else if (s.affine) {
        const affine = s.affine;
        this.weights.set(s, { post: watch.run(s.label, () => Tensor.from(this.gpu, affine, [2, s.y.c], 'f32', `${s.label} affine`)) });
      }
    }
    await watch.check(`loading ${file} (the weights need about ${bytes} bytes on the GPU)`);
    this.gpu.assertAlive();
  }

  /**
   * A conv step's weight [kh, kw, cin, cout]. Where conv_transpose2d would choose its 'vec' path, output
   * channels that are not a multiple of 4 (an RGB output layer) get zero channels up to one, so the
   * step runs on that path (the fastest on software adapters) rather than falling back to 'regs'.
   */
  private convWeight(s: ConvStep): Tensor {
    const [cin, cout] = [s.x.c, s.y.c];
    const pad = s.op === 'conv_transpose2d' && chooseConvTranspose(this.gpu, cout) === 'vec';
    const { weight, channels } = pad ? padChannels(s.weight, cout) : { weight: s.weight, channels: cout };
    return Tensor.from(this.gpu, weight, [s.kh, s.kw, cin, channels], 'f32', s.label);
  }

  /** Buffers and the plan for `batch` samples, recorded on first use. */
  private async runner(batch: number): Promise<Runner> {
    const hit = this.runners.get(batch);
    if (hit) {
      this.runners.delete(batch); // most recently used last
      this.runners.set(batch, hit);
      return hit;
    }
    // keep at most two: the full batch and one remainder
    while (this.runners.size >= 2) {
      const [k, r] = this.runners.entries().next().value as [number, Runner];
      this.runners.delete(k);
      disposeRunner(this.gpu, r);
    }
    const gpu = this.gpu;
    const buffers: Tensor[] = [];
    const plan = new Plan(gpu, `generator x${batch}`);
    const view = (v: Value): View4 => ({ batch, c: v.c, h: v.h, w: v.w, strides: layoutStrides(v.layout, v.c, v.h, v.w) });
    const made: Pick<Runner, 'batch' | 'buffers' | 'plan'> & { readback?: Readback } = { batch, buffers, plan };
    let r: Runner;
    try {
      // each kept as soon as it is made, so a failure (out of memory, a lost device) frees all of them
      this.program.bufferSizes.forEach((n, i) => buffers.push(Tensor.empty(gpu, [batch, n], 'f32', i === 0 ? 'z' : `act${i}`)));
      const readback = (made.readback = new Readback(gpu, batch * this.outputSize * 4, 'generator readback'));
      r = { batch, buffers, plan, readback };
      for (const s of this.program.steps) {
        const t = this.weights.get(s) ?? {};
        if (s.kind === 'conv' && viaMatmul(s)) {
          await matmul(plan, buffers[s.x.buf], t.w!, buffers[s.y.buf], { layout: 'kn', ...epilogue(s, t) });
        } else if (s.kind === 'conv' && s.op === 'conv2d') {
          const opts = { stride: s.stride, padding: s.pad, upsample: s.up, ...epilogue(s, t) };
          await conv2d(plan, buffers[s.x.buf], view(s.x), t.w!, buffers[s.y.buf], view(s.y), opts);
        } else if (s.kind === 'conv') {
          const opts = { stride: s.stride, padding: s.pad, ...epilogue(s, t) };
          await convTranspose2d(plan, buffers[s.x.buf], view(s.x), t.w!, buffers[s.y.buf], view(s.y), opts);
        } else {
          await scaleShift(plan, buffers[s.x.buf], view(s.x), buffers[s.y.buf], view(s.y), { affine: t.post, act: s.act, slope: s.slope });
        }
      }
    } catch (e) {
      disposeRunner(gpu, made);
      throw e;
    }
    this.runners.set(batch, r);
    return r;
  }

  /**
   * Generates images: `count` from latents drawn with `seed` (default 0), or one per nz values of
   * `z`. Returns [count, ...] float32 in the layout of `image` (e.g. [count, 3, 64, 64] NCHW).
   */
  generate(request: GenerateRequest): Promise<Float32Array> {
    // a lost device: a DeviceLostError that says to load the generator again
    const run = this.queue.then(() => this.run(request)).catch((e) => Promise.reject(this.gpu.explain(e)));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The latents generate({ count, seed }) uses. */
  latents(count: number, seed = 0): Float32Array {
    return randomLatents(count, this.nz, seed);
  }

  /** Images along the spherical path from z0 to z1 (frames of a latent walk). */
  async interpolate(z0: ArrayLike<number>, z1: ArrayLike<number>, frames: number): Promise<Float32Array> {
    if (z0.length !== this.nz || z1.length !== this.nz)
      throw new OptionError(`interpolate: z0 and z1 must have nz = ${this.nz} values, got ${z0.length} and ${z1.length}`);
    return this.generate({ z: slerpLatents(z0, z1, frames) });
  }

  private async run(request: GenerateRequest): Promise<Float32Array> {
    if (this.disposed) throw new DisposedError('this Generator was disposed');
    this.gpu.assertAlive();
    const nz = this.nz;
    let z: Float32Array;
    if ('z' in request) {
      if (!request.z || request.z.length === 0 || request.z.length % nz !== 0) {
        throw new OptionError(`generate: z must hold a whole number of latents of nz = ${nz} values, got ${request.z?.length}`);
      }
      z = request.z instanceof Float32Array ? request.z : Float32Array.from(request.z);
    } else {
      z = randomLatents(request.count, nz, request.seed ?? 0);
    }
    const count = z.length / nz;
    const per = this.outputSize;
    const out = new Float32Array(count * per);
    for (let i0 = 0; i0 < count; i0 += this.maxBatch) {
      const b = Math.min(this.maxBatch, count - i0);
      const r = await this.runner(b);
      r.buffers[0].write(z.subarray(i0 * nz, (i0 + b) * nz));
      const images = await r.readback.run(r.plan, r.buffers[this.program.output.buf].buffer, b * per * 4);
      out.set(new Float32Array(images), i0 * per);
    }
    return out;
  }

  /** Image `index` of generate()'s output as ImageData (page, worker) or RGBA pixels (Node). */
  toImageData(images: Float32Array, index = 0): ImageData | Rgba {
    return toImageData(images, this.image, index);
  }

  /** generate()'s output as one grid image. */
  grid(images: Float32Array, options?: GridOptions): Rgba {
    return gridRgba(images, this.image, options);
  }

  /** generate()'s output as a PNG grid (Node). */
  png(images: Float32Array, options?: GridOptions): Promise<Uint8Array> {
    return encodePng(gridRgba(images, this.image, options));
  }

  /** GPU memory held by this generator, in bytes: its weights and each batch size's activation buffers. */
  memoryBytes(): number {
    let n = 0;
    for (const t of this.weights.values()) for (const x of Object.values(t)) n += x?.byteLength ?? 0;
    for (const r of this.runners.values()) n += r.buffers.reduce((s, b) => s + b.byteLength, 0) + r.readback.capacity;
    return n;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const r of this.runners.values()) disposeRunner(this.gpu, r);
    this.runners.clear();
    for (const t of this.weights.values()) for (const x of Object.values(t)) x?.dispose();
    this.weights.clear();
    if (this.ownsGpu) this.gpu.dispose();
  }
}

/**
 * Steps recorded as one matmul [batch, cin] x [cin, kh*kw*cout]: dense layers, and a transposed
 * convolution of a 1x1 input with stride 1 and no padding (a DCGAN's first layer), where every tap lands
 * on its own output pixel, so an NHWC output row is [ky, kx, co]. The matmul ran the 64x64 DCGAN's
 * first layer 3.6x (lavapipe) and 5.1x (SwiftShader) faster than conv_transpose2d's best path
 * (bench/RESULTS.md). Both kernels take the same epilogue, so any fusion can go either way.
 */
function viaMatmul(s: ConvStep): boolean {
  const oneByOne =
    s.op === 'conv_transpose2d' &&
    s.x.h === 1 &&
    s.x.w === 1 &&
    s.stride[0] === 1 &&
    s.stride[1] === 1 &&
    s.pad[0] === 0 &&
    s.pad[1] === 0 &&
    s.y.h === s.kh &&
    s.y.w === s.kw &&
    (s.y.layout === 'NHWC' || s.kh * s.kw === 1);
  return s.dense || oneByOne;
}

/** A conv step's fused epilogue, with its uploaded tensors. */
function epilogue(s: ConvStep, t: { bias?: Tensor; post?: Tensor }): Epilogue {
  return { bias: t.bias, post: t.post, act: s.act, slope: s.slope, act2: s.act2, slope2: s.slope2 };
}

/** [kh, kw, cin, cout] -> [cin, kh*kw*cout] (the same array for a dense layer's [1, 1, cin, cout]). */
function matmulWeight(s: ConvStep): Float32Array {
  const [cin, cout, taps] = [s.x.c, s.y.c, s.kh * s.kw];
  if (taps === 1) return s.weight;
  const w = new Float32Array(s.weight.length);
  for (let t = 0; t < taps; t++)
    for (let ci = 0; ci < cin; ci++) w.set(s.weight.subarray((t * cin + ci) * cout, (t * cin + ci + 1) * cout), (ci * taps + t) * cout);
  return w;
}

/** post [2, cout] (scales, shifts) -> [2, taps * cout], each row repeated once per tap. */
function tilePost(post: Float32Array, cout: number, taps: number): Float32Array {
  if (taps === 1) return post;
  const out = new Float32Array(2 * taps * cout);
  out.set(tile(post.subarray(0, cout), taps));
  out.set(tile(post.subarray(cout), taps), taps * cout);
  return out;
}

function disposeRunner(gpu: Gpu, r: Partial<Runner> & Pick<Runner, 'buffers' | 'plan'>): void {
  r.plan.dispose();
  for (const b of r.buffers) b.dispose();
  r.readback?.dispose(); // undefined when the runner failed before it was made
}

/**
 * The largest batch every step can run in one dispatch: each activation buffer within one storage
 * binding. (The kernels the generator uses spread their workgroups over x and y, so the
 * per-dimension workgroup limit is never the tighter one.)
 */
function batchLimit(p: Program, gpu: Gpu, wanted: number): number {
  if (!Number.isInteger(wanted) || wanted < 1) throw new OptionError(`maxBatch must be a positive integer, got ${wanted}`);
  const l = gpu.limits;
  let b = wanted;
  for (const n of p.bufferSizes) b = Math.min(b, Math.floor(Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize) / (n * 4)));
  if (b < 1)
    throw new LimitError(
      `one sample of this generator does not fit this device's limits (maxStorageBufferBindingSize ${l.maxStorageBufferBindingSize})`,
    );
  return b;
}

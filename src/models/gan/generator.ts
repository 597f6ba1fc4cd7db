// A GAN generator: z [count, nz] -> images, as a short list of layers (dense, reshape,
// conv_transpose2d, batch_norm, activations; see generator-graph.ts) over weights from safetensors.
//
//   load:   read the graph (given, generator.json, or recognised as the canonical PyTorch DCGAN)
//   lower:  walk the layers once on the CPU into GPU steps: a batch norm right after a convolution
//           or dense layer is folded into its weights; one after the activation becomes the
//           producer's fused scale-shift; activations run in the producer's epilogue; only what
//           cannot be fused becomes a standalone scale_shift step
//   record: per batch size, buffers + one Plan (recorded once, reused for every batch of that size)
//   run:    write z, submit the plan and a copy of the output, map it back
import { convTranspose2d, kerasSamePadding, padChannels, layoutStrides, weightFromKeras, weightFromPytorch, type GanActivation, type View4 } from '../../kernels/conv_transpose2d/index.js';
import { matmul } from '../../kernels/matmul/index.js';
import { scaleShift } from '../../kernels/scale_shift.js';
import { fileIn, folderHas, readJson, type ModelFolder, type ModelSource, type ProgressCallback } from '../../loaders/fetch.js';
import { SafeTensors } from '../../loaders/safetensors.js';
import { Gpu } from '../../runtime/device.js';
import { DisposedError, LimitError, ModelFormatError, OptionError } from '../../errors.js';
import { Plan } from '../../runtime/plan.js';
import { Tensor } from '../../runtime/tensor.js';
import { dcganGraph, parseGraph, type GeneratorGraph, type Layout } from './graph.js';
import { encodePng, gridRgba, toImageData, type GridOptions, type ImageSpec, type Rgba } from './images.js';

// ---------------------------------------------------------------------------------------------
// The lowered program: CPU-side, weights already in the kernels' layouts

/** A value between steps: `buf` holds [batch, c, h, w] in `layout` (a vector is h = w = 1). */
export interface Value {
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly buf: number;
  layout: Layout;
}

export interface ConvStep {
  readonly kind: 'conv';
  readonly label: string;
  /** A dense layer is a 1x1 transposed convolution of a 1x1 input. */
  readonly dense: boolean;
  readonly x: Value;
  readonly y: Value;
  readonly kh: number;
  readonly kw: number;
  readonly stride: [number, number];
  readonly pad: [number, number];
  /** [kh, kw, cin, cout] */
  readonly weight: Float32Array;
  bias: Float32Array | null;
  /** [2, cout]: scale, shift after `act` (a batch norm that follows the activation). */
  post: Float32Array | null;
  act: GanActivation;
  slope: number;
  act2: GanActivation;
  slope2: number;
  /** What was fused, for describe(). */
  readonly fused: string[];
}

export interface PointwiseStep {
  readonly kind: 'pointwise';
  readonly label: string;
  readonly x: Value;
  readonly y: Value;
  /** [2, c] */
  affine: Float32Array | null;
  act: GanActivation;
  slope: number;
  readonly fused: string[];
}

export type Step = ConvStep | PointwiseStep;

export interface Program {
  readonly nz: number;
  readonly steps: Step[];
  /** Elements per sample of each buffer; buffer 0 is z. */
  readonly bufferSizes: number[];
  readonly output: Value;
  readonly range: [number, number];
}

/** Walks the graph once: checks every tensor, converts weights, folds and fuses. */
export function lowerGraph(graph: GeneratorGraph, st: SafeTensors): Program {
  const file = st.fileName;
  const bufferSizes = [graph.nz];
  const newValue = (c: number, h: number, w: number, layout: Layout): Value => {
    bufferSizes.push(c * h * w);
    return { c, h, w, buf: bufferSizes.length - 1, layout };
  };
  const steps: Step[] = [];
  let cur: Value = { c: graph.nz, h: 1, w: 1, buf: 0, layout: 'NCHW' };
  // the step whose output `cur` is (possibly through a reshape), while elementwise layers can still join it
  let open: Step | null = null;

  graph.layers.forEach((layer, li) => {
    const where = `${file}: layer ${li} (${layer.type})`;
    const fail = (msg: string): never => {
      throw new ModelFormatError(`${where}: ${msg}`);
    };
    /** A tensor's values, checking its shape (null when optional and absent). */
    const tensor = (name: string, shape: number[] | ((s: readonly number[]) => string | null), what: string): Float32Array => {
      if (!st.has(name)) fail(`${what} tensor "${name}" is missing`);
      const found = st.info(name).shape;
      const problem = typeof shape === 'function' ? shape(found) : found.length === shape.length && found.every((d, i) => d === shape[i]) ? null : `expected [${shape.join(', ')}]`;
      if (problem) fail(`tensor "${name}" has shape [${found.join(', ')}], ${problem}`);
      return st.f32(name);
    };
    const pick = (explicit: string | false | undefined, name: string | undefined, suffixes: string[]): string | undefined => {
      if (explicit === false) return undefined;
      if (explicit !== undefined) return explicit;
      if (name === undefined) return undefined;
      return suffixes.map((s) => name + s).find((n) => st.has(n)) ?? name + suffixes[0];
    };
    /** Output channel `co` of the open step as a channel of `cur`, which may be a reshape view of that (vector) output. */
    const channelOf = (o: Step, co: number): number => (cur === o.y ? co : cur.layout === 'NCHW' ? Math.floor(co / (cur.h * cur.w)) : co % cur.c);

    switch (layer.type) {
      case 'dense': {
        if (cur.h !== 1 || cur.w !== 1) fail(`needs a vector input (the latent or a dense output), got a ${cur.c}x${cur.h}x${cur.w} image`);
        const wName = pick(layer.weight, layer.name, ['.weight', '/kernel'])!;
        const layout = layer.layout ?? (wName.endsWith('/kernel') ? 'in_out' : 'out_in');
        const inOut = layout === 'in_out';
        let nOut = 0;
        const w = tensor(wName, (s) => {
          if (s.length !== 2) return `expected 2 dimensions (${inOut ? '[in, out]' : '[out, in]'})`;
          nOut = inOut ? s[1] : s[0];
          const nIn = inOut ? s[0] : s[1];
          return nIn === cur.c ? null : `expected ${inOut ? `[${cur.c}, out]` : `[out, ${cur.c}]`} (layout ${layout}): its input has ${cur.c} features`;
        }, 'weight');
        const weight = inOut ? w : transpose(w, nOut, cur.c); // [in, out] = [1, 1, cin, cout]
        const bName = pick(layer.bias, layer.name, ['.bias', '/bias']);
        const bias = bName && (layer.bias !== undefined || st.has(bName)) ? tensor(bName, [nOut], 'bias') : null;
        const y = newValue(nOut, 1, 1, 'NCHW');
        const step: ConvStep = {
          kind: 'conv', label: wName, dense: true, x: cur, y, kh: 1, kw: 1, stride: [1, 1], pad: [0, 0], weight, bias,
          post: null, act: 'none', slope: 0, act2: 'none', slope2: 0, fused: [],
        };
        steps.push(step);
        cur = y;
        open = step;
        break;
      }
      case 'reshape': {
        if (cur.h !== 1 || cur.w !== 1) fail(`can only reshape a vector (the latent or a dense output), got a ${cur.c}x${cur.h}x${cur.w} image`);
        const [a, b, c] = layer.shape;
        const [C, H, W] = layer.layout === 'NCHW' ? [a, b, c] : [c, a, b];
        if (C * H * W !== cur.c) fail(`shape [${layer.shape.join(', ')}] holds ${C * H * W} values, its input has ${cur.c}`);
        cur = { c: C, h: H, w: W, buf: cur.buf, layout: layer.layout };
        break;
      }
      case 'conv_transpose2d': {
        const wName = pick(layer.weight, layer.name, ['.weight', '/kernel'])!;
        const keras = (layer.layout ?? (wName.endsWith('/kernel') ? 'keras' : 'pytorch')) === 'keras';
        let kh = 0, kw = 0, cout = 0;
        const w = tensor(wName, (s) => {
          if (s.length !== 4) return `expected 4 dimensions (${keras ? '[kH, kW, out, in]' : '[in, out, kH, kW]'})`;
          [kh, kw, cout] = keras ? [s[0], s[1], s[2]] : [s[2], s[3], s[1]];
          const cin = keras ? s[3] : s[0];
          return cin === cur.c ? null : `expected ${keras ? `[kH, kW, out, ${cur.c}]` : `[${cur.c}, out, kH, kW]`} (${keras ? 'keras' : 'pytorch'} layout): its input has ${cur.c} channels`;
        }, 'weight');
        const ks = pair(layer.kernel_size ?? [kh, kw]);
        if (ks[0] !== kh || ks[1] !== kw) fail(`kernel_size [${ks.join(', ')}] does not match the weight's ${kh}x${kw}`);
        const stride = pair(layer.stride ?? 1);
        const op = pair(layer.output_padding ?? 0);
        let pad: [number, number], oh: number, ow: number;
        if (layer.padding === 'same') {
          pad = [kerasSamePadding(kh, stride[0]), kerasSamePadding(kw, stride[1])];
          [oh, ow] = [cur.h * stride[0], cur.w * stride[1]];
        } else {
          pad = pair(layer.padding === 'valid' || layer.padding === undefined ? 0 : layer.padding);
          if (op[0] >= stride[0] || op[1] >= stride[1]) fail(`output_padding [${op.join(', ')}] must be smaller than the stride [${stride.join(', ')}]`);
          oh = (cur.h - 1) * stride[0] - 2 * pad[0] + kh + op[0];
          ow = (cur.w - 1) * stride[1] - 2 * pad[1] + kw + op[1];
        }
        if (oh < 1 || ow < 1) fail(`a ${cur.h}x${cur.w} input gives an empty ${oh}x${ow} output`);
        const weight = keras ? weightFromKeras(w, cur.c, cout, kh, kw) : weightFromPytorch(w, cur.c, cout, kh, kw);
        const bName = pick(layer.bias, layer.name, ['.bias', '/bias']);
        const bias = bName && (layer.bias !== undefined || st.has(bName)) ? tensor(bName, [cout], 'bias') : null;
        const y = newValue(cout, oh, ow, 'NHWC');
        const step: ConvStep = {
          kind: 'conv', label: wName, dense: false, x: cur, y, kh, kw, stride, pad, weight, bias,
          post: null, act: 'none', slope: 0, act2: 'none', slope2: 0, fused: [],
        };
        steps.push(step);
        cur = y;
        open = step;
        break;
      }
      case 'batch_norm': {
        const pt = layer.name !== undefined && st.has(`${layer.name}.running_mean`);
        const n = (explicit: string | undefined, torch: string, keras: string) => explicit ?? (layer.name === undefined ? undefined : pt ? `${layer.name}.${torch}` : `${layer.name}/${keras}`);
        const [gName, bName, mName, vName] = [n(layer.weight, 'weight', 'gamma'), n(layer.bias, 'bias', 'beta'), n(layer.mean, 'running_mean', 'moving_mean'), n(layer.var, 'running_var', 'moving_variance')];
        const C = cur.c;
        const mean = tensor(mName!, [C], 'running mean');
        const variance = tensor(vName!, [C], 'running variance');
        const gamma = gName && (layer.weight !== undefined || st.has(gName)) ? tensor(gName, [C], 'weight (gamma)') : null;
        const beta = bName && (layer.bias !== undefined || st.has(bName)) ? tensor(bName, [C], 'bias (beta)') : null;
        const eps = layer.eps ?? (pt || layer.name === undefined ? 1e-5 : 1e-3);
        // y = x * scale + shift, in float64
        const scale = new Float64Array(C), shift = new Float64Array(C);
        for (let c = 0; c < C; c++) {
          scale[c] = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + eps);
          shift[c] = (beta ? beta[c] : 0) - mean[c] * scale[c];
        }
        const label = mName!.replace(/[./](running_mean|moving_mean)$/, '');
        const o = open as Step | null;
        if (o?.kind === 'conv' && o.act === 'none' && !o.post) {
          // directly after the conv/dense: fold into its weights and bias
          const cout = o.y.c;
          const bias = o.bias ?? new Float32Array(cout);
          for (let co = 0; co < cout; co++) {
            const c = channelOf(o, co);
            for (let k = co; k < o.weight.length; k += cout) o.weight[k] *= scale[c];
            bias[co] = bias[co] * scale[c] + shift[c];
          }
          o.bias = bias;
          o.fused.push(`bn ${label} (folded)`);
        } else if (o?.kind === 'conv' && !o.post && o.act2 === 'none') {
          // after the producer's activation: its epilogue's scale-shift
          const cout = o.y.c;
          o.post = new Float32Array(2 * cout);
          for (let co = 0; co < cout; co++) {
            o.post[co] = scale[channelOf(o, co)];
            o.post[cout + co] = shift[channelOf(o, co)];
          }
          o.fused.push(`bn ${label}`);
        } else if (o?.kind === 'pointwise' && o.act === 'none' && o.y === cur) {
          const a = o.affine ?? identityAffine(C);
          for (let c = 0; c < C; c++) {
            a[c] *= scale[c];
            a[C + c] = a[C + c] * scale[c] + shift[c];
          }
          o.affine = a;
          o.fused.push(`bn ${label}`);
        } else {
          const affine = new Float32Array(2 * C);
          affine.set(scale);
          affine.set(shift, C);
          const y = newValue(C, cur.h, cur.w, 'NHWC');
          const step: PointwiseStep = { kind: 'pointwise', label, x: cur, y, affine, act: 'none', slope: 0, fused: [`bn ${label}`] };
          steps.push(step);
          cur = y;
          open = step;
        }
        break;
      }
      default: {
        const act = layer.type as GanActivation;
        const slope = act === 'leaky_relu' ? (layer.negative_slope ?? 0.2) : 0;
        const o = open as Step | null;
        if (o?.kind === 'conv' && o.act === 'none' && !o.post) {
          o.act = act;
          o.slope = slope;
        } else if (o?.kind === 'conv' && o.post && o.act2 === 'none') {
          o.act2 = act;
          o.slope2 = slope;
        } else if (o?.kind === 'pointwise' && o.act === 'none') {
          o.act = act;
          o.slope = slope;
        } else {
          const y = newValue(cur.c, cur.h, cur.w, 'NHWC');
          const step: PointwiseStep = { kind: 'pointwise', label: act, x: cur, y, affine: null, act, slope, fused: [] };
          steps.push(step);
          cur = y;
          open = step;
          return;
        }
        o.fused.push(act === 'leaky_relu' ? `leaky_relu(${slope})` : act);
      }
    }
  });

  // The last value is written in the requested layout: by its producer, or by a copy when it is a
  // reshape view in the other layout.
  const layout = graph.output ?? 'NCHW';
  const last = steps[steps.length - 1];
  if (last && last.y === cur) cur.layout = layout;
  else if (cur.layout !== layout && cur.c > 1 && cur.h * cur.w > 1) {
    const y = newValue(cur.c, cur.h, cur.w, layout);
    steps.push({ kind: 'pointwise', label: `to ${layout}`, x: cur, y, affine: null, act: 'none', slope: 0, fused: [] });
    cur = y;
  }
  if (steps.length === 0) throw new ModelFormatError(`${file}: the graph computes nothing (no dense or conv_transpose2d layer)`);

  const lastAct = [...graph.layers].reverse().find((l) => ['tanh', 'sigmoid', 'relu', 'leaky_relu'].includes(l.type))?.type;
  const range: [number, number] = graph.range ?? (lastAct === 'sigmoid' ? [0, 1] : [-1, 1]);
  return { nz: graph.nz, steps, bufferSizes, output: cur, range };
}

function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}

function identityAffine(c: number): Float32Array {
  const a = new Float32Array(2 * c);
  a.fill(1, 0, c);
  return a;
}

// ---------------------------------------------------------------------------------------------
// Latents

/** `count` standard-normal latents of size nz from a seed (Box-Muller over mulberry32; the same everywhere). */
export function randomLatents(count: number, nz: number, seed: number): Float32Array {
  if (!Number.isInteger(count) || count < 1) throw new OptionError(`count must be a positive integer, got ${count}`);
  if (!Number.isInteger(seed)) throw new OptionError(`seed must be an integer, got ${seed}`);
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const z = new Float32Array(count * nz);
  for (let i = 0; i < z.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - uniform())); // 1 - u is in (0, 1]
    const a = 2 * Math.PI * uniform();
    z[i] = r * Math.cos(a);
    if (i + 1 < z.length) z[i + 1] = r * Math.sin(a);
  }
  return z;
}

/**
 * `frames` latents on the great-circle path from z0 to z1 (spherical interpolation, which keeps
 * Gaussian latents at a typical norm, unlike a straight line); frame 0 is z0, the last is z1.
 */
export function slerpLatents(z0: ArrayLike<number>, z1: ArrayLike<number>, frames: number): Float32Array {
  if (z0.length !== z1.length || z0.length === 0) throw new OptionError(`interpolate: z0 has ${z0.length} values, z1 ${z1.length}`);
  if (!Number.isInteger(frames) || frames < 1) throw new OptionError(`interpolate: frames must be a positive integer, got ${frames}`);
  const n = z0.length;
  let d = 0, n0 = 0, n1 = 0;
  for (let i = 0; i < n; i++) {
    d += z0[i] * z1[i];
    n0 += z0[i] * z0[i];
    n1 += z1[i] * z1[i];
  }
  const omega = Math.acos(Math.min(1, Math.max(-1, d / Math.sqrt(n0 * n1 || 1))));
  const so = Math.sin(omega);
  const out = new Float32Array(frames * n);
  for (let f = 0; f < frames; f++) {
    const t = frames === 1 ? 0 : f / (frames - 1);
    // nearly parallel latents: the straight line is the same path
    const [a, b] = so < 1e-6 ? [1 - t, t] : [Math.sin((1 - t) * omega) / so, Math.sin(t * omega) / so];
    for (let i = 0; i < n; i++) out[f * n + i] = a * z0[i] + b * z1[i];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The generator on the GPU

export interface GeneratorLoadOptions {
  /** The layer list (an object or a JSON file); default: generator.json beside the weights, else the canonical DCGAN. */
  graph?: GeneratorGraph | ModelSource;
  /** Run on this device (default: a new one, disposed with the generator). */
  gpu?: Gpu;
  onProgress?: ProgressCallback;
  /** The largest batch one recorded plan runs (default 64); larger requests are split. Lowered to fit the device's limits. */
  maxBatch?: number;
}

export type GenerateRequest = { count: number; seed?: number } | { z: ArrayLike<number> };

/** Buffers and the recorded plan for one batch size. */
interface Runner {
  readonly batch: number;
  readonly buffers: Tensor[];
  readonly plan: Plan;
  readonly staging: GPUBuffer;
}

const isFolderMap = (s: unknown): s is Readonly<Record<string, ModelSource>> =>
  typeof s === 'object' && s !== null && !(s instanceof URL) && !(s instanceof ArrayBuffer) && !(s instanceof Uint8Array) && !(typeof Blob !== 'undefined' && s instanceof Blob);

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
   * sources, holding model.safetensors and optionally generator.json) or from a safetensors file.
   */
  static async load(source: ModelFolder | ModelSource, options: GeneratorLoadOptions = {}): Promise<Generator> {
    const asFile = (typeof source === 'string' && /\.safetensors$/i.test(source)) || (source instanceof URL && /\.safetensors$/i.test(source.pathname)) || !(typeof source === 'string' || source instanceof URL || isFolderMap(source));
    const weightsSource = asFile ? (source as ModelSource) : fileIn(source as ModelFolder, 'model.safetensors');
    if (weightsSource === undefined) throw new ModelFormatError('the model files have no model.safetensors');
    const st = await SafeTensors.load(weightsSource, { onProgress: options.onProgress });

    let graph: GeneratorGraph | undefined;
    const g = options.graph;
    if (g !== undefined && typeof g === 'object' && 'layers' in g) graph = parseGraph(g, 'options.graph');
    else if (g !== undefined) {
      const { json, name } = await readJson(g as ModelSource);
      graph = parseGraph(json, name);
    } else if (!asFile && (await folderHas(source as ModelFolder, 'generator.json'))) {
      const { json, name } = await readJson(fileIn(source as ModelFolder, 'generator.json')!);
      graph = parseGraph(json, name);
    } else {
      graph = dcganGraph(st.tensors, st.fileName);
    }
    if (!graph) {
      throw new ModelFormatError(
        `${st.fileName}: no generator graph: the tensors are not a PyTorch DCGAN (main.{i}.*); put a generator.json ` +
          'beside the weights or pass { graph } (see src/models/generator-graph.ts)',
      );
    }
    const program = lowerGraph(graph, st);
    const gpu = options.gpu ?? (await Gpu.create());
    try {
      const maxBatch = batchLimit(program, gpu, options.maxBatch ?? 64);
      const gen = new Generator(gpu, !options.gpu, graph, program, maxBatch);
      gen.upload();
      return gen;
    } catch (e) {
      if (!options.gpu) gpu.dispose();
      throw e;
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
          s.kind === 'pointwise' ? 'scale_shift'
          : s.dense ? (viaMatmul(s) ? 'dense (matmul)' : 'dense (as 1x1 conv_transpose2d)')
          : `conv_transpose2d k${s.kh}x${s.kw} s${s.stride.join('x')} p${s.pad.join('x')}${viaMatmul(s) ? ' (matmul: 1x1 input)' : ''}`;
        return `${what} ${s.label}: ${shape(s.x)} -> ${shape(s.y)}${s.fused.length ? ' + ' + s.fused.join(' + ') : ''}`;
      })
      .join('\n');
  }

  private upload(): void {
    const limit = this.gpu.limits.maxStorageBufferBindingSize;
    for (const s of this.program.steps) {
      if (s.kind === 'conv' && s.weight.byteLength > limit) {
        throw new LimitError(`weight "${s.label}" takes ${s.weight.byteLength} bytes, more than this device's maxStorageBufferBindingSize (${limit})`);
      }
    }
    for (const s of this.program.steps) {
      if (s.kind === 'conv') {
        const [cin, cout] = [s.x.c, s.y.c];
        const taps = s.kh * s.kw;
        const m = viaMatmul(s);
        this.weights.set(s, {
          w: m ? Tensor.from(this.gpu, matmulWeight(s), [cin, taps * cout], 'f32', s.label) : this.convWeight(s),
          // as a matmul the output row is [ky, kx, co]: the bias repeats once per tap
          bias: s.bias ? Tensor.from(this.gpu, m ? tile(s.bias, taps) : s.bias, [m ? taps * cout : cout], 'f32', `${s.label} bias`) : undefined,
          post: s.post ? Tensor.from(this.gpu, s.post, [2, cout], 'f32', `${s.label} post`) : undefined,
        });
      } else if (s.affine) {
        this.weights.set(s, { post: Tensor.from(this.gpu, s.affine, [2, s.y.c], 'f32', `${s.label} affine`) });
      }
    }
  }

  /**
   * A conv step's weight [kh, kw, cin, cout]. On software adapters, 3 or more output channels that are
   * not a multiple of 4 (an RGB output layer) get zero channels up to one, so the step runs on
   * conv_transpose2d's 'vec' path, the fastest there.
   */
  private convWeight(s: ConvStep): Tensor {
    const [cin, cout] = [s.x.c, s.y.c];
    const { weight, channels } = this.gpu.isSoftware && cout > 2 ? padChannels(s.weight, cout) : { weight: s.weight, channels: cout };
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
    const buffers = this.program.bufferSizes.map((n, i) => Tensor.empty(gpu, [batch, n], 'f32', i === 0 ? 'z' : `act${i}`));
    const plan = new Plan(gpu, `generator x${batch}`);
    const view = (v: Value): View4 => ({ batch, c: v.c, h: v.h, w: v.w, strides: layoutStrides(v.layout, v.c, v.h, v.w) });
    const staging = gpu.createBuffer({ label: 'generator readback', size: batch * this.outputSize * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const r: Runner = { batch, buffers, plan, staging };
    try {
      for (const s of this.program.steps) {
        const t = this.weights.get(s) ?? {};
        if (s.kind === 'conv' && viaMatmul(s)) {
          await matmul(plan, buffers[s.x.buf], t.w!, buffers[s.y.buf], { layout: 'kn', bias: t.bias, activation: s.act });
        } else if (s.kind === 'conv') {
          await convTranspose2d(plan, buffers[s.x.buf], view(s.x), t.w!, buffers[s.y.buf], view(s.y), {
            stride: s.stride, padding: s.pad, bias: t.bias, post: t.post, act: s.act, slope: s.slope, act2: s.act2, slope2: s.slope2,
          });
        } else {
          await scaleShift(plan, buffers[s.x.buf], view(s.x), buffers[s.y.buf], view(s.y), { affine: t.post, act: s.act, slope: s.slope });
        }
      }
    } catch (e) {
      disposeRunner(gpu, r);
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
    const run = this.queue.then(() => this.run(request));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The latents generate({ count, seed }) uses. */
  latents(count: number, seed = 0): Float32Array {
    return randomLatents(count, this.nz, seed);
  }

  /** Images along the spherical path from z0 to z1 (frames of a latent walk). */
  async interpolate(z0: ArrayLike<number>, z1: ArrayLike<number>, frames: number): Promise<Float32Array> {
    if (z0.length !== this.nz || z1.length !== this.nz) throw new OptionError(`interpolate: z0 and z1 must have nz = ${this.nz} values, got ${z0.length} and ${z1.length}`);
    return this.generate({ z: slerpLatents(z0, z1, frames) });
  }

  private async run(request: GenerateRequest): Promise<Float32Array> {
    if (this.disposed) throw new DisposedError('this Generator was disposed');
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
      const bytes = b * per * 4;
      const enc = this.gpu.device.createCommandEncoder({ label: 'generate' });
      r.plan.encode(enc);
      enc.copyBufferToBuffer(r.buffers[this.program.output.buf].buffer, 0, r.staging, 0, bytes);
      this.gpu.device.queue.submit([enc.finish()]);
      await r.staging.mapAsync(GPUMapMode.READ, 0, bytes);
      out.set(new Float32Array(r.staging.getMappedRange(0, bytes)), i0 * per);
      r.staging.unmap();
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
 * Steps recorded as one matmul [batch, cin] x [cin, kh*kw*cout] when their epilogue is one the matmul
 * has (bias and one activation; LeakyReLU only with its 0.2 slope; otherwise conv_transpose2d with the
 * full epilogue): dense layers, and a transposed convolution of a 1x1 input with stride 1 and no padding (a
 * DCGAN's first layer), where every tap lands on its own output pixel, so an NHWC output row is
 * [ky, kx, co]. The matmul ran the 64x64 DCGAN's first layer 3.6x (lavapipe) and 5.1x (SwiftShader)
 * faster than conv_transpose2d's best path (bench/RESULTS.md).
 */
function viaMatmul(s: ConvStep): boolean {
  const epilogue = !s.post && s.act2 === 'none' && (s.act !== 'leaky_relu' || s.slope === 0.2);
  const oneByOne =
    s.x.h === 1 && s.x.w === 1 && s.stride[0] === 1 && s.stride[1] === 1 && s.pad[0] === 0 && s.pad[1] === 0 &&
    s.y.h === s.kh && s.y.w === s.kw && (s.y.layout === 'NHWC' || s.kh * s.kw === 1);
  return epilogue && (s.dense || oneByOne);
}

/** [kh, kw, cin, cout] -> [cin, kh*kw*cout] (the same array for a dense layer's [1, 1, cin, cout]). */
function matmulWeight(s: ConvStep): Float32Array {
  const [cin, cout, taps] = [s.x.c, s.y.c, s.kh * s.kw];
  if (taps === 1) return s.weight;
  const w = new Float32Array(s.weight.length);
  for (let t = 0; t < taps; t++) for (let ci = 0; ci < cin; ci++) w.set(s.weight.subarray((t * cin + ci) * cout, (t * cin + ci + 1) * cout), (ci * taps + t) * cout);
  return w;
}

function tile(v: Float32Array, times: number): Float32Array {
  const out = new Float32Array(v.length * times);
  for (let i = 0; i < times; i++) out.set(v, i * v.length);
  return out;
}

function disposeRunner(gpu: Gpu, r: Runner): void {
  r.plan.dispose();
  for (const b of r.buffers) b.dispose();
  gpu.destroyBuffer(r.staging);
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
  if (b < 1) throw new LimitError(`one sample of this generator does not fit this device's limits (maxStorageBufferBindingSize ${l.maxStorageBufferBindingSize})`);
  return b;
}

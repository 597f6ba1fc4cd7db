// Lowering a generator graph to GPU steps, once, on the CPU: every tensor is checked and converted to
// the kernels' layouts, and elementwise layers join the step that produces their input:
//   a batch norm right after a dense or conv layer      -> folded into its weights and bias
//   an activation after a dense or conv layer            -> its epilogue's act
//   a batch norm after that activation                   -> its epilogue's post (scale-shift)
//   an activation after that                             -> its epilogue's act2
//   anything else                                        -> a standalone scale_shift step
// A nearest upsampling is read on the fly by the conv2d that follows it (batch norms and activations
// between them commute with it, so they still join the step before); followed by anything else it
// becomes a transposed convolution with an identity kernel (stride = kernel = the factor).
import type { Activation } from '../../kernels/epilogue.js';
import { conv2dOutputSize, conv2dWeightFromPytorch, kerasSameConv } from '../../kernels/conv2d/index.js';
import { kerasSamePadding, weightFromKeras, weightFromPytorch } from '../../kernels/conv_transpose2d/weights.js';
import { ModelFormatError } from '../../errors.js';
import type { SafeTensors } from '../../loaders/safetensors.js';
import { pair, transpose } from '../../util.js';
import type { BatchNormLayer, Conv2dLayer, ConvTranspose2dLayer, DenseLayer, GeneratorGraph, Layout } from './graph.js';

/** A value between steps: `buf` holds [batch, c, h, w] in `layout` (a vector is h = w = 1). */
export interface Value {
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly buf: number;
  layout: Layout;
}

/** A dense layer (a 1x1 transposed convolution of a 1x1 input), a transposed or a forward convolution, with its fused epilogue. */
export interface ConvStep {
  readonly kind: 'conv';
  readonly label: string;
  readonly dense: boolean;
  /** Which kernel: conv_transpose2d (dense layers too) or conv2d. */
  readonly op: 'conv_transpose2d' | 'conv2d';
  /** conv2d: the input read nearest-upsampled by these factors ([1, 1]: as it is). */
  readonly up: [number, number];
  readonly x: Value;
  readonly y: Value;
  readonly kh: number;
  readonly kw: number;
  readonly stride: [number, number];
  /** conv_transpose2d: cropped from the start of the full output; conv2d: zeros before the first row and column. */
  readonly pad: [number, number];
  /** [kh, kw, cin, cout] */
  readonly weight: Float32Array;
  bias: Float32Array | null;
  /** [2, cout]: scale, shift after `act` (a batch norm that follows the activation). */
  post: Float32Array | null;
  act: Activation;
  slope: number;
  act2: Activation;
  slope2: number;
  /** What was fused, for describe(). */
  readonly fused: string[];
}

/** y = act(x * scale + shift) per channel (the affine optional), also a layout change. */
export interface PointwiseStep {
  readonly kind: 'pointwise';
  readonly label: string;
  readonly x: Value;
  readonly y: Value;
  /** [2, c] */
  affine: Float32Array | null;
  act: Activation;
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

/** A batch norm as y = x * scale + shift per channel, computed in float64. */
interface Affine {
  readonly label: string;
  readonly scale: Float64Array;
  readonly shift: Float64Array;
}

/** Walks the graph once: checks every tensor, converts weights, folds and fuses. */
export function lowerGraph(graph: GeneratorGraph, st: SafeTensors): Program {
  const lw = new Lowering(graph, st);
  graph.layers.forEach((layer, li) => {
    const at = new LayerReader(st, `${st.fileName}: layer ${li} (${layer.type})`);
    switch (layer.type) {
      case 'dense':
        lw.flushUpsample();
        return lw.dense(layer, at);
      case 'upsample':
        return lw.upsample(pair(layer.scale));
      case 'conv2d':
        return lw.conv2d(layer, at);
      case 'reshape': {
        lw.flushUpsample();
        const cur = lw.cur;
        if (cur.h !== 1 || cur.w !== 1)
          at.fail(`can only reshape a vector (the latent or a dense output), got a ${cur.c}x${cur.h}x${cur.w} image`);
        const [a, b, c] = layer.shape;
        const [C, H, W] = layer.layout === 'NCHW' ? [a, b, c] : [c, a, b];
        if (C * H * W !== cur.c) at.fail(`shape [${layer.shape.join(', ')}] holds ${C * H * W} values, its input has ${cur.c}`);
        lw.cur = { c: C, h: H, w: W, buf: cur.buf, layout: layer.layout };
        return;
      }
      case 'conv_transpose2d':
        lw.flushUpsample();
        return lw.convTranspose(layer, at);
      case 'batch_norm':
        return lw.batchNorm(batchNormAffine(layer, lw.cur.c, at));
      default:
        return lw.activation(layer.type, layer.type === 'leaky_relu' ? (layer.negative_slope ?? 0.2) : 0);
    }
  });
  return lw.finish();
}

/** Reads one layer's tensors, checking their shapes; errors name the file and the layer. */
class LayerReader {
  constructor(
    private readonly st: SafeTensors,
    private readonly where: string,
  ) {}

  fail(msg: string): never {
    throw new ModelFormatError(`${this.where}: ${msg}`);
  }

  has(name: string): boolean {
    return this.st.has(name);
  }

  /** A tensor's values; `shape` is the expected shape, or a check returning a problem (null if none). */
  tensor(name: string, shape: number[] | ((s: readonly number[]) => string | null), what: string): Float32Array {
    if (!this.st.has(name)) this.fail(`${what} tensor "${name}" is missing`);
    const found = this.st.info(name).shape;
    const problem =
      typeof shape === 'function'
        ? shape(found)
        : found.length === shape.length && found.every((d, i) => d === shape[i])
          ? null
          : `expected [${shape.join(', ')}]`;
    if (problem) this.fail(`tensor "${name}" has shape [${found.join(', ')}], ${problem}`);
    return this.st.f32(name);
  }

  /** The tensor name of an explicit field, else `name` + the first suffix present (or the first suffix). */
  pick(explicit: string | false | undefined, name: string | undefined, suffixes: string[]): string | undefined {
    if (explicit === false) return undefined;
    if (explicit !== undefined) return explicit;
    if (name === undefined) return undefined;
    return suffixes.map((s) => name + s).find((n) => this.st.has(n)) ?? name + suffixes[0];
  }

  /** An optional bias: required when named explicitly, else used when present. */
  optional(
    explicit: string | false | undefined,
    name: string | undefined,
    suffixes: string[],
    shape: number[],
    what: string,
  ): Float32Array | null {
    const n = this.pick(explicit, name, suffixes);
    return n && (explicit !== undefined || this.st.has(n)) ? this.tensor(n, shape, what) : null;
  }
}

class Lowering {
  readonly steps: Step[] = [];
  readonly bufferSizes: number[];
  cur: Value;
  /** The step whose output `cur` is (possibly through a reshape), while elementwise layers can still join it. */
  private open: Step | null = null;
  /** An upsampling not yet applied: the next conv2d reads `cur` through it. */
  private pendingUp: [number, number] | null = null;

  constructor(
    private readonly graph: GeneratorGraph,
    private readonly st: SafeTensors,
  ) {
    this.bufferSizes = [graph.nz];
    this.cur = { c: graph.nz, h: 1, w: 1, buf: 0, layout: 'NCHW' };
  }

  private value(c: number, h: number, w: number, layout: Layout): Value {
    this.bufferSizes.push(c * h * w);
    return { c, h, w, buf: this.bufferSizes.length - 1, layout };
  }

  private push(step: Step): void {
    this.steps.push(step);
    this.cur = step.y;
    this.open = step;
  }

  private conv(
    label: string,
    dense: boolean,
    y: Value,
    k: [number, number],
    stride: [number, number],
    pad: [number, number],
    weight: Float32Array,
    bias: Float32Array | null,
    op: ConvStep['op'] = 'conv_transpose2d',
    up: [number, number] = [1, 1],
  ): void {
    const [kh, kw] = k;
    this.push({
      kind: 'conv',
      label,
      dense,
      op,
      up,
      x: this.cur,
      y,
      kh,
      kw,
      stride,
      pad,
      weight,
      bias,
      post: null,
      act: 'none',
      slope: 0,
      act2: 'none',
      slope2: 0,
      fused: [],
    });
  }

  dense(layer: DenseLayer, at: LayerReader): void {
    const cur = this.cur;
    if (cur.h !== 1 || cur.w !== 1) at.fail(`needs a vector input (the latent or a dense output), got a ${cur.c}x${cur.h}x${cur.w} image`);
    const wName = at.pick(layer.weight, layer.name, ['.weight', '/kernel'])!;
    const layout = layer.layout ?? (wName.endsWith('/kernel') ? 'in_out' : 'out_in');
    const inOut = layout === 'in_out';
    let nOut = 0;
    const w = at.tensor(
      wName,
      (s) => {
        if (s.length !== 2) return `expected 2 dimensions (${inOut ? '[in, out]' : '[out, in]'})`;
        nOut = inOut ? s[1] : s[0];
        const nIn = inOut ? s[0] : s[1];
        return nIn === cur.c
          ? null
          : `expected ${inOut ? `[${cur.c}, out]` : `[out, ${cur.c}]`} (layout ${layout}): its input has ${cur.c} features`;
      },
      'weight',
    );
    const weight = inOut ? w : transpose(w, nOut, cur.c); // [in, out] = [1, 1, cin, cout]
    const bias = at.optional(layer.bias, layer.name, ['.bias', '/bias'], [nOut], 'bias');
    this.conv(wName, true, this.value(nOut, 1, 1, 'NCHW'), [1, 1], [1, 1], [0, 0], weight, bias);
  }

  convTranspose(layer: ConvTranspose2dLayer, at: LayerReader): void {
    const cur = this.cur;
    const wName = at.pick(layer.weight, layer.name, ['.weight', '/kernel'])!;
    const keras = (layer.layout ?? (wName.endsWith('/kernel') ? 'keras' : 'pytorch')) === 'keras';
    let kh = 0;
    let kw = 0;
    let cout = 0;
    const w = at.tensor(
      wName,
      (s) => {
        if (s.length !== 4) return `expected 4 dimensions (${keras ? '[kH, kW, out, in]' : '[in, out, kH, kW]'})`;
        [kh, kw, cout] = keras ? [s[0], s[1], s[2]] : [s[2], s[3], s[1]];
        const cin = keras ? s[3] : s[0];
        return cin === cur.c
          ? null
          : `expected ${keras ? `[kH, kW, out, ${cur.c}]` : `[${cur.c}, out, kH, kW]`} (${keras ? 'keras' : 'pytorch'} layout): its input has ${cur.c} channels`;
      },
      'weight',
    );
    const ks = pair(layer.kernel_size ?? [kh, kw]);
    if (ks[0] !== kh || ks[1] !== kw) at.fail(`kernel_size [${ks.join(', ')}] does not match the weight's ${kh}x${kw}`);
    const stride = pair(layer.stride ?? 1);
    const op = pair(layer.output_padding ?? 0);
    let pad: [number, number];
    let oh: number;
    let ow: number;
    if (layer.padding === 'same') {
      pad = [kerasSamePadding(kh, stride[0]), kerasSamePadding(kw, stride[1])];
      [oh, ow] = [cur.h * stride[0], cur.w * stride[1]];
    } else {
      pad = pair(layer.padding === 'valid' || layer.padding === undefined ? 0 : layer.padding);
      if (op[0] >= stride[0] || op[1] >= stride[1])
        at.fail(`output_padding [${op.join(', ')}] must be smaller than the stride [${stride.join(', ')}]`);
      oh = (cur.h - 1) * stride[0] - 2 * pad[0] + kh + op[0];
      ow = (cur.w - 1) * stride[1] - 2 * pad[1] + kw + op[1];
    }
    if (oh < 1 || ow < 1) at.fail(`a ${cur.h}x${cur.w} input gives an empty ${oh}x${ow} output`);
    const weight = keras ? weightFromKeras(w, cur.c, cout, kh, kw) : weightFromPytorch(w, cur.c, cout, kh, kw);
    const bias = at.optional(layer.bias, layer.name, ['.bias', '/bias'], [cout], 'bias');
    this.conv(wName, false, this.value(cout, oh, ow, 'NHWC'), [kh, kw], stride, pad, weight, bias);
  }

  upsample(scale: [number, number]): void {
    const [a, b] = this.pendingUp ?? [1, 1];
    this.pendingUp = [a * scale[0], b * scale[1]];
  }

  /** A pending upsampling that no conv2d reads: a transposed convolution with an identity kernel (nearest). */
  flushUpsample(): void {
    const up = this.pendingUp;
    if (!up) return;
    this.pendingUp = null;
    const [uh, uw] = up;
    const C = this.cur.c;
    const weight = new Float32Array(uh * uw * C * C);
    for (let t = 0; t < uh * uw; t++) for (let c = 0; c < C; c++) weight[(t * C + c) * C + c] = 1;
    const y = this.value(C, this.cur.h * uh, this.cur.w * uw, 'NHWC');
    this.conv(`upsample ${uh}x${uw}`, false, y, [uh, uw], [uh, uw], [0, 0], weight, null);
  }

  conv2d(layer: Conv2dLayer, at: LayerReader): void {
    const cur = this.cur;
    const up = this.pendingUp ?? [1, 1];
    this.pendingUp = null;
    const wName = at.pick(layer.weight, layer.name, ['.weight', '/kernel'])!;
    const keras = (layer.layout ?? (wName.endsWith('/kernel') ? 'keras' : 'pytorch')) === 'keras';
    let kh = 0;
    let kw = 0;
    let cout = 0;
    const w = at.tensor(
      wName,
      (s) => {
        if (s.length !== 4) return `expected 4 dimensions (${keras ? '[kH, kW, in, out]' : '[out, in, kH, kW]'})`;
        [kh, kw, cout] = keras ? [s[0], s[1], s[3]] : [s[2], s[3], s[0]];
        const cin = keras ? s[2] : s[1];
        return cin === cur.c
          ? null
          : `expected ${keras ? `[kH, kW, ${cur.c}, out]` : `[out, ${cur.c}, kH, kW]`} (${keras ? 'keras' : 'pytorch'} layout): its input has ${cur.c} channels`;
      },
      'weight',
    );
    const ks = pair(layer.kernel_size ?? [kh, kw]);
    if (ks[0] !== kh || ks[1] !== kw) at.fail(`kernel_size [${ks.join(', ')}] does not match the weight's ${kh}x${kw}`);
    const stride = pair(layer.stride ?? 1);
    const [lh, lw] = [cur.h * up[0], cur.w * up[1]];
    let pad: [number, number];
    let oh: number;
    let ow: number;
    if (layer.padding === 'same') {
      const [a, b] = [kerasSameConv(lh, kh, stride[0]), kerasSameConv(lw, kw, stride[1])];
      [pad, oh, ow] = [[a.pad, b.pad], a.out, b.out];
    } else {
      pad = pair(layer.padding === 'valid' || layer.padding === undefined ? 0 : layer.padding);
      [oh, ow] = [conv2dOutputSize(lh, kh, stride[0], pad[0]), conv2dOutputSize(lw, kw, stride[1], pad[1])];
    }
    if (oh < 1 || ow < 1) at.fail(`a ${lh}x${lw} input is smaller than the ${kh}x${kw} kernel: the output is empty`);
    const weight = keras ? w : conv2dWeightFromPytorch(w, cout, cur.c, kh, kw);
    const bias = at.optional(layer.bias, layer.name, ['.bias', '/bias'], [cout], 'bias');
    this.conv(wName, false, this.value(cout, oh, ow, 'NHWC'), [kh, kw], stride, pad, weight, bias, 'conv2d', up);
  }

  batchNorm(bn: Affine): void {
    const o = this.open;
    if (o?.kind === 'conv' && o.act === 'none' && !o.post) foldIntoWeights(o, bn, this.channelMap(o));
    else if (o?.kind === 'conv' && !o.post && o.act2 === 'none') fuseAsPost(o, bn, this.channelMap(o));
    else if (o?.kind === 'pointwise' && o.act === 'none' && o.y === this.cur) fuseIntoAffine(o, bn);
    else {
      const C = this.cur.c;
      const affine = new Float32Array(2 * C);
      affine.set(bn.scale);
      affine.set(bn.shift, C);
      const y = this.value(C, this.cur.h, this.cur.w, 'NHWC');
      this.push({ kind: 'pointwise', label: bn.label, x: this.cur, y, affine, act: 'none', slope: 0, fused: [`bn ${bn.label}`] });
    }
  }

  activation(act: Activation, slope: number): void {
    const o = this.open;
    if (!(o && fuseActivation(o, act, slope))) {
      const y = this.value(this.cur.c, this.cur.h, this.cur.w, 'NHWC');
      this.push({ kind: 'pointwise', label: act, x: this.cur, y, affine: null, act, slope, fused: [] });
    }
  }

  /** Output channel co of step o as a channel of `cur`, which may be a reshape view of o's (vector) output. */
  private channelMap(o: Step): (co: number) => number {
    const cur = this.cur;
    if (cur === o.y) return (co) => co;
    return cur.layout === 'NCHW' ? (co) => Math.floor(co / (cur.h * cur.w)) : (co) => co % cur.c;
  }

  /** The last value, written in the requested layout by its producer, or by a copy when it is a reshape view in the other layout. */
  finish(): Program {
    this.flushUpsample();
    const layout = this.graph.output ?? 'NCHW';
    const last = this.steps[this.steps.length - 1];
    if (last && last.y === this.cur) this.cur.layout = layout;
    else if (this.cur.layout !== layout && this.cur.c > 1 && this.cur.h * this.cur.w > 1) {
      const y = this.value(this.cur.c, this.cur.h, this.cur.w, layout);
      this.steps.push({ kind: 'pointwise', label: `to ${layout}`, x: this.cur, y, affine: null, act: 'none', slope: 0, fused: [] });
      this.cur = y;
    }
    if (this.steps.length === 0)
      throw new ModelFormatError(`${this.st.fileName}: the graph computes nothing (no dense or conv_transpose2d layer)`);
    const lastAct = [...this.graph.layers].reverse().find((l) => ['tanh', 'sigmoid', 'relu', 'leaky_relu'].includes(l.type))?.type;
    const range: [number, number] = this.graph.range ?? (lastAct === 'sigmoid' ? [0, 1] : [-1, 1]);
    return { nz: this.graph.nz, steps: this.steps, bufferSizes: this.bufferSizes, output: this.cur, range };
  }
}

/** An eval-mode batch norm's tensors as a per-channel affine (PyTorch or Keras names). */
function batchNormAffine(layer: BatchNormLayer, C: number, at: LayerReader): Affine {
  const pt = layer.name !== undefined && at.has(`${layer.name}.running_mean`);
  const n = (explicit: string | undefined, torch: string, keras: string) =>
    explicit ?? (layer.name === undefined ? undefined : pt ? `${layer.name}.${torch}` : `${layer.name}/${keras}`);
  const [gName, bName, mName, vName] = [
    n(layer.weight, 'weight', 'gamma'),
    n(layer.bias, 'bias', 'beta'),
    n(layer.mean, 'running_mean', 'moving_mean'),
    n(layer.var, 'running_var', 'moving_variance'),
  ];
  const mean = at.tensor(mName!, [C], 'running mean');
  const variance = at.tensor(vName!, [C], 'running variance');
  const gamma = gName && (layer.weight !== undefined || at.has(gName)) ? at.tensor(gName, [C], 'weight (gamma)') : null;
  const beta = bName && (layer.bias !== undefined || at.has(bName)) ? at.tensor(bName, [C], 'bias (beta)') : null;
  const eps = layer.eps ?? (pt || layer.name === undefined ? 1e-5 : 1e-3);
  const scale = new Float64Array(C);
  const shift = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    scale[c] = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + eps);
    shift[c] = (beta ? beta[c] : 0) - mean[c] * scale[c];
  }
  return { label: mName!.replace(/[./](running_mean|moving_mean)$/, ''), scale, shift };
}

/** A batch norm directly after a conv or dense layer: its weights and bias absorb it. */
function foldIntoWeights(o: ConvStep, bn: Affine, channel: (co: number) => number): void {
  const cout = o.y.c;
  const bias = o.bias ?? new Float32Array(cout);
  for (let co = 0; co < cout; co++) {
    const c = channel(co);
    for (let k = co; k < o.weight.length; k += cout) o.weight[k] *= bn.scale[c];
    bias[co] = bias[co] * bn.scale[c] + bn.shift[c];
  }
  o.bias = bias;
  o.fused.push(`bn ${bn.label} (folded)`);
}

/** A batch norm after the producer's activation: the epilogue's post scale-shift. */
function fuseAsPost(o: ConvStep, bn: Affine, channel: (co: number) => number): void {
  const cout = o.y.c;
  o.post = new Float32Array(2 * cout);
  for (let co = 0; co < cout; co++) {
    o.post[co] = bn.scale[channel(co)];
    o.post[cout + co] = bn.shift[channel(co)];
  }
  o.fused.push(`bn ${bn.label}`);
}

/** A batch norm after a standalone affine (no activation yet): the two affines compose. */
function fuseIntoAffine(o: PointwiseStep, bn: Affine): void {
  const C = o.y.c;
  let a = o.affine;
  if (!a) {
    a = new Float32Array(2 * C);
    a.fill(1, 0, C);
  }
  for (let c = 0; c < C; c++) {
    a[c] *= bn.scale[c];
    a[C + c] = a[C + c] * bn.scale[c] + bn.shift[c];
  }
  o.affine = a;
  o.fused.push(`bn ${bn.label}`);
}

/** An activation joins the open step's epilogue where a slot is free; false when none is. */
function fuseActivation(o: Step, act: Activation, slope: number): boolean {
  if (o.kind === 'conv' && o.act === 'none' && !o.post) {
    o.act = act;
    o.slope = slope;
  } else if (o.kind === 'conv' && o.post && o.act2 === 'none') {
    o.act2 = act;
    o.slope2 = slope;
  } else if (o.kind === 'pointwise' && o.act === 'none') {
    o.act = act;
    o.slope = slope;
  } else return false;
  o.fused.push(act === 'leaky_relu' ? `leaky_relu(${slope})` : act);
  return true;
}

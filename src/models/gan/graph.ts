// A GAN generator as a short list of layers, stored as JSON beside its safetensors (generator.json),
// naming the tensors each layer uses. This file holds the schema, its validation, and the graph of
// the canonical PyTorch DCGAN, recognised from its tensor names and shapes alone.
import { ModelFormatError } from '../../errors.js';
import type { TensorInfo } from '../../loaders/safetensors.js';

export type Layout = 'NCHW' | 'NHWC';

/** Dense: weight `[in, out]` (Keras kernel, layout 'in_out') or `[out, in]` (PyTorch Linear, 'out_in'). */
export interface DenseLayer {
  type: 'dense';
  /** Shorthand: `<name>.weight`/`<name>.bias` (PyTorch) or `<name>/kernel`/`<name>/bias` (Keras). */
  name?: string;
  weight?: string;
  /** A tensor name, or false for no bias even where `name` would find one. */
  bias?: string | false;
  layout?: 'in_out' | 'out_in';
}

/** Reshape a flat vector to an image: `shape` in the layout's own order ([C, H, W] or [H, W, C]). */
export interface ReshapeLayer {
  type: 'reshape';
  shape: [number, number, number];
  layout: Layout;
}

export interface ConvTranspose2dLayer {
  type: 'conv_transpose2d';
  name?: string;
  weight?: string;
  bias?: string | false;
  /** 'pytorch': weight [in, out, kH, kW]; 'keras': [kH, kW, out, in]. */
  layout?: 'pytorch' | 'keras';
  /** Checked against the weight's shape when given. */
  kernel_size?: number | [number, number];
  stride?: number | [number, number];
  /** A number (PyTorch: crop this many at each side) or 'same' (Keras: output = input * stride); 'valid' = 0. */
  padding?: number | [number, number] | 'same' | 'valid';
  /** PyTorch output_padding: extra rows/columns at the end (less than the stride). */
  output_padding?: number | [number, number];
}

/**
 * A forward convolution (cross-correlation, as Keras Conv2D and PyTorch Conv2d compute it).
 * 'keras': weight [kH, kW, in, out]; 'pytorch': [out, in, kH, kW].
 */
export interface Conv2dLayer {
  type: 'conv2d';
  name?: string;
  weight?: string;
  bias?: string | false;
  layout?: 'pytorch' | 'keras';
  kernel_size?: number | [number, number];
  stride?: number | [number, number];
  /** A number (zeros at each side), 'valid' (0) or 'same' (Keras/TensorFlow: output = ceil(input / stride), the extra row at the end). */
  padding?: number | [number, number] | 'same' | 'valid';
}

/** Nearest-neighbour upsampling by integer factors (Keras UpSampling2D, PyTorch Upsample(mode='nearest')). */
export interface UpsampleLayer {
  type: 'upsample';
  scale: number | [number, number];
}

/** Eval-mode batch norm over channels: (x - mean) / sqrt(var + eps) * weight + bias. */
export interface BatchNormLayer {
  type: 'batch_norm';
  /** Shorthand for PyTorch `<name>.{weight,bias,running_mean,running_var}` or Keras `<name>/{gamma,beta,moving_mean,moving_variance}`. */
  name?: string;
  weight?: string;
  bias?: string;
  mean?: string;
  var?: string;
  /** Default 1e-5 for PyTorch names, 1e-3 for Keras names. */
  eps?: number;
}

export interface ActivationLayer {
  type: 'relu' | 'tanh' | 'sigmoid' | 'leaky_relu';
  /** leaky_relu only; default 0.2 (Keras' LeakyReLU default is 0.3, PyTorch's 0.01: say which). */
  negative_slope?: number;
}

export type LayerSpec = DenseLayer | ReshapeLayer | ConvTranspose2dLayer | Conv2dLayer | UpsampleLayer | BatchNormLayer | ActivationLayer;

export interface GeneratorGraph {
  /** Latent size: z is [count, nz] (the same memory as PyTorch's [count, nz, 1, 1]). */
  nz: number;
  layers: LayerSpec[];
  /** Memory layout of the output images (default NCHW). */
  output?: Layout;
  /** The range of output values for image conversion; default from the last activation (tanh: [-1, 1], sigmoid: [0, 1]). */
  range?: [number, number];
}

const LAYER_TYPES = ['dense', 'reshape', 'conv_transpose2d', 'conv2d', 'upsample', 'batch_norm', 'relu', 'leaky_relu', 'tanh', 'sigmoid'];

const isPosInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
const isNatInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
const isPair = (v: unknown, ok: (x: unknown) => boolean): boolean => ok(v) || (Array.isArray(v) && v.length === 2 && v.every(ok));

/** Checks a parsed JSON graph; every problem is a ModelFormatError naming `where` and the layer. */
export function parseGraph(json: unknown, where = 'generator graph'): GeneratorGraph {
  const fail = (msg: string): never => {
    throw new ModelFormatError(`${where}: ${msg}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('must be a JSON object {"nz": ..., "layers": [...]}');
  const g = json as Record<string, unknown>;
  if (!isPosInt(g.nz)) fail(`"nz" (the latent size) must be a positive integer, got ${JSON.stringify(g.nz)}`);
  if (!Array.isArray(g.layers) || g.layers.length === 0) fail('"layers" must be a non-empty array');
  if (g.output !== undefined && g.output !== 'NCHW' && g.output !== 'NHWC')
    fail(`"output" must be "NCHW" or "NHWC", got ${JSON.stringify(g.output)}`);
  if (
    g.range !== undefined &&
    !(Array.isArray(g.range) && g.range.length === 2 && g.range.every(Number.isFinite) && g.range[0] < g.range[1])
  ) {
    fail(`"range" must be [low, high], got ${JSON.stringify(g.range)}`);
  }
  (g.layers as unknown[]).forEach((l, i) => {
    const at = (msg: string): never =>
      fail(`layer ${i}${l && typeof l === 'object' && 'type' in l ? ` (${String((l as any).type)})` : ''}: ${msg}`);
    if (typeof l !== 'object' || l === null) return at('must be an object with a "type"');
    const L = l as Record<string, unknown>;
    if (!LAYER_TYPES.includes(L.type as string)) at(`unknown type ${JSON.stringify(L.type)}; expected one of ${LAYER_TYPES.join(', ')}`);
    const str = (k: string) => L[k] === undefined || typeof L[k] === 'string' || at(`"${k}" must be a tensor name`);
    switch (L.type) {
      case 'dense':
      case 'conv_transpose2d':
        str('name');
        str('weight');
        if (L.bias !== undefined && L.bias !== false && typeof L.bias !== 'string') at('"bias" must be a tensor name or false');
        if (L.name === undefined && L.weight === undefined) at('needs "weight" (a tensor name) or "name"');
        if (L.type === 'dense' && L.layout !== undefined && L.layout !== 'in_out' && L.layout !== 'out_in')
          at(`"layout" must be "in_out" or "out_in", got ${JSON.stringify(L.layout)}`);
        if (L.type === 'conv_transpose2d') {
          if (L.layout !== undefined && L.layout !== 'pytorch' && L.layout !== 'keras')
            at(`"layout" must be "pytorch" or "keras", got ${JSON.stringify(L.layout)}`);
          if (L.kernel_size !== undefined && !isPair(L.kernel_size, isPosInt))
            at(`"kernel_size" must be a positive integer or a pair, got ${JSON.stringify(L.kernel_size)}`);
          if (L.stride !== undefined && !isPair(L.stride, isPosInt))
            at(`"stride" must be a positive integer or a pair, got ${JSON.stringify(L.stride)}`);
          if (L.padding !== undefined && L.padding !== 'same' && L.padding !== 'valid' && !isPair(L.padding, isNatInt)) {
            at(`"padding" must be a non-negative integer, a pair, "same" or "valid", got ${JSON.stringify(L.padding)}`);
          }
          if (L.output_padding !== undefined && !isPair(L.output_padding, isNatInt))
            at(`"output_padding" must be a non-negative integer or a pair, got ${JSON.stringify(L.output_padding)}`);
          if (L.padding === 'same' && L.output_padding !== undefined && L.output_padding !== 0)
            at('"output_padding" cannot be combined with padding "same"');
        }
        break;
      case 'conv2d':
        str('name');
        str('weight');
        if (L.bias !== undefined && L.bias !== false && typeof L.bias !== 'string') at('"bias" must be a tensor name or false');
        if (L.name === undefined && L.weight === undefined) at('needs "weight" (a tensor name) or "name"');
        if (L.layout !== undefined && L.layout !== 'pytorch' && L.layout !== 'keras')
          at(`"layout" must be "pytorch" or "keras", got ${JSON.stringify(L.layout)}`);
        if (L.kernel_size !== undefined && !isPair(L.kernel_size, isPosInt))
          at(`"kernel_size" must be a positive integer or a pair, got ${JSON.stringify(L.kernel_size)}`);
        if (L.stride !== undefined && !isPair(L.stride, isPosInt))
          at(`"stride" must be a positive integer or a pair, got ${JSON.stringify(L.stride)}`);
        if (L.padding !== undefined && L.padding !== 'same' && L.padding !== 'valid' && !isPair(L.padding, isNatInt))
          at(`"padding" must be a non-negative integer, a pair, "same" or "valid", got ${JSON.stringify(L.padding)}`);
        break;
      case 'upsample':
        if (!isPair(L.scale, isPosInt)) at(`"scale" must be a positive integer or a pair, got ${JSON.stringify(L.scale)}`);
        break;
      case 'reshape':
        if (!(Array.isArray(L.shape) && L.shape.length === 3 && L.shape.every(isPosInt)))
          at(`"shape" must be three positive integers ([C, H, W] or [H, W, C]), got ${JSON.stringify(L.shape)}`);
        if (L.layout !== 'NCHW' && L.layout !== 'NHWC') at(`"layout" must be "NCHW" or "NHWC", got ${JSON.stringify(L.layout)}`);
        break;
      case 'batch_norm':
        for (const k of ['name', 'weight', 'bias', 'mean', 'var']) str(k);
        if (L.name === undefined && (L.mean === undefined || L.var === undefined)) at('needs "mean" and "var" (tensor names) or "name"');
        if (L.eps !== undefined && !(typeof L.eps === 'number' && L.eps >= 0))
          at(`"eps" must be a non-negative number, got ${JSON.stringify(L.eps)}`);
        break;
      case 'leaky_relu':
        if (L.negative_slope !== undefined && !Number.isFinite(L.negative_slope))
          at(`"negative_slope" must be a number, got ${JSON.stringify(L.negative_slope)}`);
        break;
    }
  });
  return g as unknown as GeneratorGraph;
}

/**
 * The graph of the canonical PyTorch DCGAN generator (pytorch/examples dcgan `Generator.main`):
 *   ConvTranspose2d(nz, C0, 4, 1, 0) BN ReLU, then ConvTranspose2d(Ci, Ci+1, 4, 2, 1) BN ReLU ...,
 *   last ConvTranspose2d(C, nc, 4, 2, 1) Tanh
 * recognised from `main.{i}.*` names alone (optionally under `module.`, as DataParallel saves them).
 * Returns undefined when the tensors are not named that way; throws when they are but do not fit.
 */
export function dcganGraph(tensors: ReadonlyMap<string, TensorInfo>, where = 'model.safetensors'): GeneratorGraph | undefined {
  const names = [...tensors.keys()];
  const prefix = names.some((n) => n.startsWith('module.main.')) ? 'module.main.' : 'main.';
  const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}(\\d+)\\.`);
  const indices = [
    ...new Set(
      names
        .map((n) => re.exec(n)?.[1])
        .filter((v): v is string => v !== undefined)
        .map(Number),
    ),
  ].sort((a, b) => a - b);
  if (indices.length === 0) return undefined;
  const fail = (msg: string): never => {
    throw new ModelFormatError(
      `${where}: the tensors are named like a PyTorch DCGAN generator (${prefix}{i}.*) but ${msg}; describe the model in a generator.json instead`,
    );
  };
  const layers: LayerSpec[] = [];
  let expect = 0; // the Sequential index the next conv must have
  let nz = 0;
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    const w = tensors.get(`${prefix}${i}.weight`);
    if (!w || w.shape.length !== 4 || tensors.has(`${prefix}${i}.running_mean`))
      fail(`${prefix}${i} is not a ConvTranspose2d where one was expected`);
    if (i !== expect) fail(`the ConvTranspose2d at index ${i} should be at index ${expect}`);
    const [cin, , kh, kw] = w!.shape;
    if (kh !== 4 || kw !== 4) fail(`${prefix}${i}.weight has kernel ${kh}x${kw}, not 4x4`);
    const first = layers.length === 0;
    if (first) nz = cin;
    layers.push({ type: 'conv_transpose2d', name: `${prefix}${i}`, layout: 'pytorch', stride: first ? 1 : 2, padding: first ? 0 : 1 });
    const hasBn = tensors.has(`${prefix}${i + 1}.running_mean`);
    if (hasBn) {
      if (indices[j + 1] !== i + 1) fail(`batch norm ${prefix}${i + 1} is incomplete`);
      j++;
      layers.push({ type: 'batch_norm', name: `${prefix}${i + 1}`, eps: 1e-5 });
    }
    const last = j === indices.length - 1;
    layers.push({ type: last ? 'tanh' : 'relu' });
    expect = i + (hasBn ? 3 : 2);
  }
  return { nz, layers, output: 'NCHW', range: [-1, 1] };
}

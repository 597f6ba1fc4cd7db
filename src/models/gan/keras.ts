// A generator that Keras saved (.keras or .h5) as webgen's own graph + weights: the saved model config
// becomes a GeneratorGraph (graph.ts) and the layers' weights a safetensors file named
// `<layer>/<weight>` in Keras' layouts, so the same lowering runs it and `webgen gan --write-graph`
// can write both out for a person to read and edit.
//
// Taken: Sequential and single-path Functional models of InputLayer, Dense, Reshape, Conv2DTranspose,
// Conv2D, UpSampling2D (nearest), BatchNormalization, Activation, ReLU, LeakyReLU, Dropout, Flatten
// of a vector; activations inside layers (relu, sigmoid, tanh, leaky_relu, linear); channels-last.
// Anything else is a ModelFormatError naming the layer and its class.
import { ModelFormatError } from '../../errors.js';
import { readSource, type ModelSource, type ReadOptions } from '../../loaders/fetch.js';
import { isKerasFile, readKerasFile, type KerasModelFile, type KerasWeight } from '../../loaders/keras.js';
import { SafeTensors, writeSafetensors, type TensorToWrite } from '../../loaders/safetensors.js';
import type { GeneratorGraph, LayerSpec } from './graph.js';

export interface KerasGenerator {
  readonly graph: GeneratorGraph;
  /** The weights as a safetensors file in memory (`<layer>/kernel`, `<layer>/gamma`, ...). */
  readonly safetensors: Uint8Array;
  readonly weights: SafeTensors;
  readonly file: KerasModelFile;
}

const KERAS_EXT = /\.(keras|h5|hdf5)$/i;

/** True when `source` names a Keras file (.keras, .h5, .hdf5) or holds one (a zip or HDF5 file in memory or a Blob). */
export async function isKerasSource(source: unknown): Promise<boolean> {
  if (typeof source === 'string') return KERAS_EXT.test(source.split(/[?#]/)[0]);
  if (source instanceof URL) return KERAS_EXT.test(source.pathname);
  if (source instanceof Uint8Array) return isKerasFile(source);
  if (source instanceof ArrayBuffer) return isKerasFile(new Uint8Array(source, 0, Math.min(8, source.byteLength)));
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    if (KERAS_EXT.test((source as File).name ?? '')) return true;
    return isKerasFile(new Uint8Array(await source.slice(0, 8).arrayBuffer()));
  }
  return false;
}

/** Reads a Keras file from a path, URL, File/Blob or bytes and converts it. */
export async function loadKerasGenerator(source: ModelSource, read: ReadOptions = {}): Promise<KerasGenerator> {
  const { bytes, name } = await readSource(source, read);
  const fileName = name === 'buffer' || name === 'blob' ? `${name} (Keras file)` : name;
  return kerasGenerator(await readKerasFile(bytes, fileName));
}

type Json = Record<string, any>;

/** A saved Keras model as a generator graph and its weights. */
export function kerasGenerator(file: KerasModelFile): KerasGenerator {
  const where = file.fileName;
  const fail = (msg: string): never => {
    throw new ModelFormatError(`${where}: ${msg}`);
  };
  const cfg = file.config as Json;
  const cls: string = cfg.class_name;
  const inner: Json = cfg.config ?? {};
  let layers: Json[];
  if (cls === 'Sequential') layers = Array.isArray(inner) ? inner : inner.layers;
  else if (cls === 'Functional' || cls === 'Model') layers = functionalChain(inner, fail);
  else return fail(`the model is a ${cls}; only Sequential and Functional models are read`);
  if (!Array.isArray(layers) || layers.length === 0) fail('the model config lists no layers');

  const keras3 = !file.kerasVersion || !file.kerasVersion.startsWith('2.');
  const tensors: Record<string, TensorToWrite> = {};
  const specs: LayerSpec[] = [];
  let nz = 0;
  // the value between layers, channels-last: [features] or [h, w, c]
  let shape: number[] = [];

  const inputShape = (c: Json): number[] | undefined => {
    const s = c.batch_shape ?? c.batch_input_shape;
    return Array.isArray(s) ? s.slice(1) : undefined;
  };
  const first = layers[0];
  const start =
    first.class_name === 'InputLayer'
      ? inputShape(first.config)
      : (inputShape(first.config ?? {}) ?? first.build_config?.input_shape?.slice(1));
  if (!start || start.length !== 1 || !(start[0] > 0)) {
    fail(`the input must be a vector of latents (shape [batch, nz]), got ${JSON.stringify(start ? [null, ...start] : undefined)}`);
  }
  nz = start![0];
  shape = [nz];

  for (const layer of layers) {
    const c: Json = layer.config ?? {};
    const lname: string = c.name ?? layer.name ?? '?';
    const lcls: string = layer.class_name;
    const at = (msg: string): never => fail(`layer "${lname}" (${lcls}): ${msg}`);
    const w = file.weights.get(lname) ?? [];
    const take = (i: number, what: string, want: number[]): string => {
      const t: KerasWeight | undefined = w[i];
      if (!t) at(`its ${what} weight is missing from the file`);
      if (t!.shape.length !== want.length || t!.shape.some((d, j) => want[j] >= 0 && d !== want[j]))
        at(`${what} has shape [${t!.shape.join(', ')}], expected [${want.map((d) => (d < 0 ? '?' : d)).join(', ')}]`);
      const name = `${lname}/${what}`;
      tensors[name] = { data: t!.data, shape: t!.shape };
      return name;
    };
    const image = (): [number, number, number] => {
      if (shape.length !== 3) at(`needs an image input (height, width, channels), got shape [${shape.join(', ')}]`);
      return shape as [number, number, number];
    };
    const channelsLast = () => {
      if (c.data_format !== undefined && c.data_format !== null && c.data_format !== 'channels_last')
        at(`data_format "${c.data_format}" is not supported (channels_last only)`);
    };
    const pairOf = (v: unknown, what: string): [number, number] => {
      const p = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? v : at(`bad ${what} ${JSON.stringify(v)}`);
      return p as [number, number];
    };
    const noDilation = () => {
      const d = pairOf(c.dilation_rate ?? 1, 'dilation_rate');
      if (d[0] !== 1 || d[1] !== 1) at(`dilation_rate ${JSON.stringify(c.dilation_rate)} is not supported`);
      if ((c.groups ?? 1) !== 1) at(`groups ${c.groups} is not supported`);
    };
    const padding = (): 'same' | 'valid' => {
      const p = String(c.padding ?? 'valid').toLowerCase();
      if (p !== 'same' && p !== 'valid') at(`padding "${c.padding}" is not supported (same or valid)`);
      return p as 'same' | 'valid';
    };
    const activation = (a: unknown) => {
      const spec = activationSpec(a, keras3, at);
      if (spec) specs.push(spec);
    };

    switch (lcls) {
      case 'InputLayer':
      case 'Dropout':
      case 'SpatialDropout2D':
      case 'GaussianNoise':
      case 'GaussianDropout':
        break; // identities at inference
      case 'Flatten':
        if (shape.length !== 1) at('flattening an image is not supported (a Reshape to a vector is neither)');
        break;
      case 'Dense': {
        if (shape.length !== 1) at(`needs a vector input, got shape [${shape.join(', ')}]`);
        const units: number = c.units;
        const kernel = take(0, 'kernel', [shape[0], units]);
        const bias = c.use_bias === false ? false : take(1, 'bias', [units]);
        specs.push({ type: 'dense', weight: kernel, bias, layout: 'in_out' });
        activation(c.activation);
        shape = [units];
        break;
      }
      case 'Reshape': {
        const t: number[] = c.target_shape;
        if (!Array.isArray(t) || t.length !== 3 || shape.length !== 1)
          at(`only a vector reshaped to an image (h, w, c) is supported, got ${JSON.stringify(t)} from [${shape.join(', ')}]`);
        const [h, ww, ch] = t.map((d, i) => (d === -1 ? shape[0] / t.filter((_, j) => j !== i).reduce((a, b) => a * b, 1) : d));
        if (h * ww * ch !== shape[0]) at(`target shape ${JSON.stringify(t)} does not hold the ${shape[0]} input values`);
        specs.push({ type: 'reshape', shape: [h, ww, ch], layout: 'NHWC' });
        shape = [h, ww, ch];
        break;
      }
      case 'Conv2DTranspose': {
        channelsLast();
        noDilation();
        const [h, ww, cin] = image();
        const [kh, kw] = pairOf(c.kernel_size, 'kernel_size');
        const [sh, sw] = pairOf(c.strides ?? 1, 'strides');
        if (c.output_padding !== undefined && c.output_padding !== null) at('output_padding is not supported');
        const pad = padding();
        const kernel = take(0, 'kernel', [kh, kw, c.filters, cin]);
        const bias = c.use_bias === false ? false : take(1, 'bias', [c.filters]);
        // Keras 'valid': length n*s + max(k - s, 0), which for k < s is PyTorch's plus (s - k) at the end
        const op: [number, number] = [Math.max(sh - kh, 0), Math.max(sw - kw, 0)];
        specs.push({
          type: 'conv_transpose2d',
          weight: kernel,
          bias,
          layout: 'keras',
          kernel_size: [kh, kw],
          stride: [sh, sw],
          padding: pad,
          ...(pad === 'valid' && (op[0] || op[1]) ? { output_padding: op } : {}),
        });
        activation(c.activation);
        shape = pad === 'same' ? [h * sh, ww * sw, c.filters] : [h * sh + Math.max(kh - sh, 0), ww * sw + Math.max(kw - sw, 0), c.filters];
        break;
      }
      case 'Conv2D': {
        channelsLast();
        noDilation();
        const [h, ww, cin] = image();
        const [kh, kw] = pairOf(c.kernel_size, 'kernel_size');
        const [sh, sw] = pairOf(c.strides ?? 1, 'strides');
        const pad = padding();
        const kernel = take(0, 'kernel', [kh, kw, cin, c.filters]);
        const bias = c.use_bias === false ? false : take(1, 'bias', [c.filters]);
        specs.push({ type: 'conv2d', weight: kernel, bias, layout: 'keras', kernel_size: [kh, kw], stride: [sh, sw], padding: pad });
        activation(c.activation);
        shape =
          pad === 'same'
            ? [Math.ceil(h / sh), Math.ceil(ww / sw), c.filters]
            : [Math.floor((h - kh) / sh) + 1, Math.floor((ww - kw) / sw) + 1, c.filters];
        if (shape[0] < 1 || shape[1] < 1) at(`a ${h}x${ww} input is smaller than the ${kh}x${kw} kernel`);
        break;
      }
      case 'UpSampling2D': {
        channelsLast();
        const [h, ww, ch] = image();
        if ((c.interpolation ?? 'nearest') !== 'nearest') at(`interpolation "${c.interpolation}" is not supported (nearest only)`);
        const [a, b] = pairOf(c.size ?? 2, 'size');
        specs.push({ type: 'upsample', scale: [a, b] });
        shape = [h * a, ww * b, ch];
        break;
      }
      case 'BatchNormalization': {
        const ch = shape[shape.length - 1];
        const axis = Array.isArray(c.axis) ? c.axis : [c.axis ?? -1];
        if (axis.length !== 1 || !(axis[0] === -1 || axis[0] === shape.length))
          at(`axis ${JSON.stringify(c.axis)} is not the channels' axis`);
        let i = 0;
        const gamma = c.scale === false ? undefined : take(i++, 'gamma', [ch]);
        const beta = c.center === false ? undefined : take(i++, 'beta', [ch]);
        const mean = take(i++, 'moving_mean', [ch]);
        const variance = take(i++, 'moving_variance', [ch]);
        specs.push({ type: 'batch_norm', weight: gamma, bias: beta, mean, var: variance, eps: c.epsilon ?? 1e-3 });
        break;
      }
      case 'Activation':
        activation(c.activation);
        break;
      case 'ReLU': {
        if (c.max_value !== undefined && c.max_value !== null) at(`max_value ${c.max_value} is not supported`);
        if (c.threshold) at(`threshold ${c.threshold} is not supported`);
        const slope = c.negative_slope ?? 0;
        specs.push(slope ? { type: 'leaky_relu', negative_slope: slope } : { type: 'relu' });
        break;
      }
      case 'LeakyReLU':
        // the layer's default is 0.3 in Keras 2 (alpha) and Keras 3 (negative_slope) alike; both write it out
        specs.push({ type: 'leaky_relu', negative_slope: c.negative_slope ?? c.alpha ?? 0.3 });
        break;
      default:
        at(
          'this layer class is not supported; supported: InputLayer, Dense, Reshape, Conv2DTranspose, Conv2D, UpSampling2D, ' +
            'BatchNormalization, Activation, ReLU, LeakyReLU, Dropout',
        );
    }
  }
  if (!specs.some((s) => s.type === 'dense' || s.type === 'conv_transpose2d' || s.type === 'conv2d'))
    fail('the model has no Dense or convolution layer');
  const graph: GeneratorGraph = { nz, layers: specs, output: 'NHWC' };
  const safetensors = writeSafetensors(tensors, { format: 'keras', source: where.split(/[\\/]/).pop() ?? where });
  return { graph, safetensors, weights: SafeTensors.fromBytes(safetensors, where), file };
}

/** An activation given by name (or as a serialized object) as a graph layer; undefined for linear. */
function activationSpec(a: unknown, keras3: boolean, at: (msg: string) => never): LayerSpec | undefined {
  let name = a;
  let cfg: Json = {};
  if (a && typeof a === 'object') {
    const o = a as Json;
    name = o.config?.name ?? o.class_name;
    cfg = o.config ?? {};
  }
  switch (name ?? 'linear') {
    case 'linear':
      return undefined;
    case 'relu':
      return { type: 'relu' };
    case 'sigmoid':
      return { type: 'sigmoid' };
    case 'tanh':
      return { type: 'tanh' };
    case 'leaky_relu':
      return { type: 'leaky_relu', negative_slope: cfg.negative_slope ?? cfg.alpha ?? (keras3 ? 0.2 : 0.3) };
    default:
      return at(`activation ${JSON.stringify(name)} is not supported (relu, sigmoid, tanh, leaky_relu, linear)`);
  }
}

/** The layers of a single-path Functional model, input to output; a branch or a merge is an error. */
function functionalChain(inner: Json, fail: (msg: string) => never): Json[] {
  const layers: Json[] = inner.layers ?? [];
  const byName = new Map<string, Json>(layers.map((l) => [l.config?.name ?? l.name, l]));
  const ends = (v: unknown): string[] => (Array.isArray(v) ? (typeof v[0] === 'string' ? [v[0]] : v.flatMap(ends)) : []);
  const outputs = ends(inner.output_layers);
  const inputs = ends(inner.input_layers);
  if (outputs.length !== 1 || inputs.length !== 1)
    fail(`the model has ${inputs.length} inputs and ${outputs.length} outputs; only single-input, single-output generators are read`);
  const chain: Json[] = [];
  let name: string | undefined = outputs[0];
  const seen = new Set<string>();
  while (name !== undefined) {
    if (seen.has(name)) fail(`layer "${name}" is used twice (a shared layer)`);
    seen.add(name);
    const l = byName.get(name);
    if (!l) return fail(`the model config has no layer "${name}"`);
    chain.push(l);
    const nodes: unknown[] = l.inbound_nodes ?? [];
    if (nodes.length > 1) fail(`layer "${name}" (${l.class_name}) is called ${nodes.length} times (a shared layer)`);
    const from = nodes.length ? inboundNames(nodes[0]) : [];
    if (from.length > 1)
      fail(`layer "${name}" (${l.class_name}) takes ${from.length} inputs (${from.join(', ')}); only single-path models are read`);
    name = from[0];
  }
  if (chain[chain.length - 1].class_name !== 'InputLayer') fail('the model does not start at an InputLayer');
  if (chain.length !== layers.length) {
    const off = layers.map((l) => l.config?.name ?? l.name).filter((n) => !seen.has(n));
    fail(`layers ${off.join(', ')} are off the path from the input to the output; only single-path models are read`);
  }
  return chain.reverse();
}

/** Names of the layers feeding one inbound node: Keras 3 (`keras_history` in args) or Keras 2 ([[name, i, j, kwargs], ...]). */
function inboundNames(node: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      if (typeof v[0] === 'string' && typeof v[1] === 'number') out.push(v[0]);
      else v.forEach(walk);
    } else if (v && typeof v === 'object') {
      const o = v as Json;
      if (Array.isArray(o.config?.keras_history)) out.push(o.config.keras_history[0]);
      else if (Array.isArray(o.keras_history)) out.push(o.keras_history[0]);
      else Object.values(o).forEach(walk);
    }
  };
  walk(Array.isArray(node) ? node : ((node as Json)?.args ?? node));
  return [...new Set(out)];
}

// Files Keras wrote: `.keras` (Keras 3: a zip of config.json + model.weights.h5) and `.h5` (Keras 2,
// and Keras 3's legacy saving: the architecture as JSON in the root attribute `model_config`, the
// weights under model_weights/<layer>/...). Read into the saved model config and each layer's weights
// in the order Keras lists them (layer.weights), by layer name. No GPU; no knowledge of any model.
import { ModelFormatError } from '../errors.js';
import { Hdf5File } from './hdf5.js';
import { isHdf5, isZip, ZipFile } from './zip.js';

export interface KerasWeight {
  /** The weight's own name where the file records one (kernel, bias, gamma, ...), else its index. */
  readonly name: string;
  readonly shape: number[];
  readonly data: Float32Array;
}

export interface KerasModelFile {
  readonly fileName: string;
  readonly format: 'keras' | 'h5';
  /** The saved model config: { class_name, config: { layers, ... } }. */
  readonly config: Record<string, unknown>;
  /** Layer name -> its weights, in layer.weights order. */
  readonly weights: Map<string, KerasWeight[]>;
  readonly kerasVersion?: string;
}

/** True when the bytes are a Keras file this reader takes (a zip or an HDF5 file). */
export const isKerasFile = (bytes: Uint8Array): boolean => isZip(bytes) || isHdf5(bytes);

/** Reads a .keras or .h5 file held in memory. */
export async function readKerasFile(bytes: Uint8Array, fileName = 'model.keras'): Promise<KerasModelFile> {
  if (isZip(bytes)) {
    const zip = new ZipFile(bytes, fileName);
    if (!zip.has('config.json'))
      throw new ModelFormatError(`${fileName}: a zip without config.json is not a .keras file (Keras 3's native format)`);
    const config = parseJson(new TextDecoder().decode(await zip.read('config.json')), `${fileName}: config.json`);
    let kerasVersion: string | undefined;
    if (zip.has('metadata.json')) {
      const meta = parseJson(new TextDecoder().decode(await zip.read('metadata.json')), `${fileName}: metadata.json`);
      kerasVersion = typeof meta.keras_version === 'string' ? meta.keras_version : undefined;
    }
    const weights = new Map<string, KerasWeight[]>();
    if (zip.has('model.weights.h5')) {
      const h5 = new Hdf5File(await zip.read('model.weights.h5'), `${fileName}: model.weights.h5`);
      collectV3Weights(h5, h5.root, weights);
    } else if (zip.has('model.weights.npz')) {
      throw new ModelFormatError(`${fileName}: weights saved as .npz are not supported; save with the default (HDF5) weights`);
    }
    return { fileName, format: 'keras', config, weights, kerasVersion };
  }
  if (isHdf5(bytes)) {
    const h5 = new Hdf5File(bytes, fileName);
    const attrs = h5.attrs(h5.root);
    const mc = attrs.get('model_config');
    if (typeof mc !== 'string') {
      throw new ModelFormatError(
        `${fileName}: an HDF5 file without a "model_config" attribute holds weights only (model.save_weights); ` +
          'save the whole model (model.save("gen.h5") or "gen.keras")',
      );
    }
    const config = parseJson(mc, `${fileName}: model_config`);
    const mw = h5.find('model_weights') ?? h5.root;
    const weights = new Map<string, KerasWeight[]>();
    const layerNames = asStrings(h5.attrs(mw).get('layer_names')) ?? [...h5.children(mw).keys()];
    for (const layer of layerNames) {
      const g = h5.children(mw).get(layer);
      if (g === undefined) continue;
      const names = asStrings(h5.attrs(g).get('weight_names')) ?? [];
      weights.set(
        layer,
        names.map((wn) => {
          const a = findUnder(h5, g, wn);
          if (a === undefined) throw new ModelFormatError(`${fileName}: weight "${wn}" of layer "${layer}" is missing`);
          const { shape, data } = h5.f32(a, `${fileName}: ${layer}/${wn}`);
          return { name: wn.replace(/:\d+$/, '').split('/').pop()!, shape, data };
        }),
      );
    }
    const kv = attrs.get('keras_version') ?? h5.attrs(mw).get('keras_version');
    return { fileName, format: 'h5', config, weights, kerasVersion: typeof kv === 'string' ? kv : undefined };
  }
  throw new ModelFormatError(`${fileName}: neither a .keras (zip) nor an .h5 (HDF5) file`);
}

function parseJson(text: string, where: string): Record<string, unknown> {
  try {
    const j = JSON.parse(text);
    if (typeof j === 'object' && j !== null && !Array.isArray(j)) return j;
  } catch (e) {
    throw new ModelFormatError(`${where}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  throw new ModelFormatError(`${where}: not a JSON object`);
}

const asStrings = (v: unknown): string[] | undefined =>
  typeof v === 'string' ? [v] : Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : undefined;

/** A weight path relative to its layer's group (Keras 2 writes "<layer>/kernel:0" under model_weights/<layer>/). */
function findUnder(h5: Hdf5File, g: number, path: string): number | undefined {
  let a = g;
  for (const part of path.split('/')) {
    const next = h5.children(a).get(part);
    if (next === undefined) return undefined;
    a = next;
  }
  return a;
}

/**
 * Keras 3's model.weights.h5: groups named by attribute paths (layers/dense, layers/dense_1, ...),
 * each with a `vars` group whose `name` attribute is the layer's name and whose datasets 0, 1, ...
 * are layer.weights in order. Nested models (a Sequential inside a Functional) are walked too.
 */
function collectV3Weights(h5: Hdf5File, a: number, out: Map<string, KerasWeight[]>): void {
  for (const [child, addr] of h5.children(a)) {
    if (child === 'optimizer' || h5.isDataset(addr)) continue;
    if (child === 'vars') {
      const name = h5.attrs(addr).get('name');
      const vars = [...h5.children(addr)].filter(([k]) => /^\d+$/.test(k)).sort((x, y) => Number(x[0]) - Number(y[0]));
      if (typeof name === 'string' && vars.length > 0 && !out.has(name)) {
        out.set(
          name,
          vars.map(([k, va]) => {
            const { shape, data } = h5.f32(va, `${h5.fileName}: ${name}/vars/${k}`);
            return { name: k, shape, data };
          }),
        );
      }
    } else collectV3Weights(h5, addr, out);
  }
}

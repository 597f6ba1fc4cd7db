// The Keras readers and the config -> graph conversion, without a GPU: the zip and HDF5 readers on
// files Keras wrote (test/fixtures/keras), a deflated zip entry, and the typed errors for what is
// not taken (a layer class, a branching model, a weights-only file).
import { readFile } from 'node:fs/promises';
import { deflateRawSync, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ModelFormatError } from '../../src/errors.js';
import { Hdf5File } from '../../src/loaders/hdf5.js';
import { readKerasFile, type KerasModelFile } from '../../src/loaders/keras.js';
import { ZipFile } from '../../src/loaders/zip.js';
import { kerasGenerator } from '../../src/models/gan/keras.js';

const DIR = 'test/fixtures/keras';
const bytes = async (p: string) => new Uint8Array(await readFile(p));
const h5 = async (name: string) => new Uint8Array(gunzipSync(await readFile(`${DIR}/${name}.h5.gz`)));

/** A zip of `files`, each deflated (what Python's zipfile writes with ZIP_DEFLATED; CRCs left 0, the reader ignores them). */
function zipDeflated(files: Record<string, Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(files)) {
    const n = new TextEncoder().encode(name);
    const comp = deflateRawSync(data);
    const local = new Uint8Array(30 + n.length);
    const dl = new DataView(local.buffer);
    dl.setUint32(0, 0x04034b50, true);
    dl.setUint16(8, 8, true);
    dl.setUint32(18, comp.length, true);
    dl.setUint32(22, data.length, true);
    dl.setUint16(26, n.length, true);
    local.set(n, 30);
    const cd = new Uint8Array(46 + n.length);
    const dc = new DataView(cd.buffer);
    dc.setUint32(0, 0x02014b50, true);
    dc.setUint16(10, 8, true);
    dc.setUint32(20, comp.length, true);
    dc.setUint32(24, data.length, true);
    dc.setUint16(28, n.length, true);
    dc.setUint32(42, offset, true);
    cd.set(n, 46);
    parts.push(local, comp);
    central.push(cd);
    offset += local.length + comp.length;
  }
  const cdSize = central.reduce((a, b) => a + b.length, 0);
  const eocd = new Uint8Array(22);
  const de = new DataView(eocd.buffer);
  de.setUint32(0, 0x06054b50, true);
  de.setUint16(8, central.length, true);
  de.setUint16(10, central.length, true);
  de.setUint32(12, cdSize, true);
  de.setUint32(16, offset, true);
  const all = [...parts, ...central, eocd];
  const out = new Uint8Array(all.reduce((a, b) => a + b.length, 0));
  let p = 0;
  for (const a of all) (out.set(a, p), (p += a.length));
  return out;
}

describe('Keras file readers', () => {
  it('reads a .keras zip: config.json, metadata, and every layer weight from model.weights.h5', async () => {
    const f = await readKerasFile(await bytes(`${DIR}/upconv.keras`), 'upconv.keras');
    expect(f.format).toBe('keras');
    expect(f.kerasVersion).toMatch(/^3\./);
    expect((f.config as any).class_name).toBe('Functional');
    expect(f.weights.get('dense_4')!.map((w) => w.shape)).toEqual([[16, 256], [256]]);
    expect(f.weights.get('batch_normalization_3')!.length).toBe(4);
    expect(f.weights.get('conv2d_2')!.map((w) => w.shape)).toEqual([[4, 4, 8, 8]]); // use_bias=False
  });

  it('reads the legacy .h5 (model_config attribute, vlen-string layer_names) to the same weights as the .keras', async () => {
    const a = await readKerasFile(await h5('upconv'), 'upconv.h5');
    const b = await readKerasFile(await bytes(`${DIR}/upconv.keras`), 'upconv.keras');
    expect(a.format).toBe('h5');
    expect([...a.weights.keys()].filter((k) => a.weights.get(k)!.length).sort()).toEqual(
      [...b.weights.keys()].filter((k) => b.weights.get(k)!.length).sort(),
    );
    for (const [layer, ws] of a.weights) ws.forEach((w, i) => expect(w.data, `${layer}/${w.name}`).toEqual(b.weights.get(layer)![i].data));
    expect(a.weights.get('conv2d')!.map((w) => w.name)).toEqual(['kernel', 'bias']);
  });

  it('inflates deflated zip entries (DecompressionStream deflate-raw)', async () => {
    const src = new ZipFile(await bytes(`${DIR}/dcgan.keras`), 'dcgan.keras');
    const files: Record<string, Uint8Array> = {};
    for (const name of src.entries.keys()) files[name] = await src.read(name);
    const deflated = zipDeflated(files);
    expect(deflated.byteLength).toBeLessThan((await bytes(`${DIR}/dcgan.keras`)).byteLength);
    const f = await readKerasFile(deflated, 'deflated.keras');
    const g = await readKerasFile(await bytes(`${DIR}/dcgan.keras`), 'dcgan.keras');
    expect(f.weights.get('dense_3')![0].data).toEqual(g.weights.get('dense_3')![0].data);
  });

  it('truncated, foreign and weights-only files are ModelFormatErrors naming the file', async () => {
    const keras = await bytes(`${DIR}/dcgan.keras`);
    await expect(readKerasFile(keras.subarray(0, 1000), 'cut.keras')).rejects.toThrow(/cut\.keras/);
    await expect(readKerasFile(new Uint8Array(64), 'zeros.bin')).rejects.toThrow(ModelFormatError);
    const weightsOnly = await new ZipFile(keras, 'dcgan.keras').read('model.weights.h5');
    await expect(readKerasFile(weightsOnly, 'model.weights.h5')).rejects.toThrow(/model_config.*weights only/);
    expect(() => new Hdf5File(keras, 'x.h5')).toThrow(/not an HDF5 file/);
  });
});

describe('Keras config -> generator graph', () => {
  const file = (config: object, weights: KerasModelFile['weights'] = new Map(), kerasVersion = '3.15.1'): KerasModelFile => ({
    fileName: 'gen.keras',
    format: 'keras',
    config: config as Record<string, unknown>,
    weights,
    kerasVersion,
  });
  const w = (...shape: number[]) => ({ name: 'w', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  const seq = (...layers: object[]) => ({ class_name: 'Sequential', config: { name: 's', layers } });
  const input = (nz: number, key = 'batch_shape') => ({ class_name: 'InputLayer', config: { name: 'in', [key]: [null, nz] } });

  it('the converted graphs of the fixtures', async () => {
    const dcgan = kerasGenerator(await readKerasFile(await bytes(`${DIR}/dcgan.keras`), 'dcgan.keras'));
    expect(dcgan.graph.nz).toBe(16);
    expect(dcgan.graph.layers.map((l) => l.type)).toEqual([
      'dense', 'batch_norm', 'leaky_relu', 'reshape',
      'conv_transpose2d', 'batch_norm', 'leaky_relu', 'conv_transpose2d', 'batch_norm', 'leaky_relu', 'conv_transpose2d', 'tanh',
    ]); // prettier-ignore
    expect(dcgan.graph.layers[0]).toMatchObject({ weight: 'dense_3/kernel', bias: false, layout: 'in_out' });
    expect(dcgan.graph.layers[2]).toEqual({ type: 'leaky_relu', negative_slope: 0.3 });
    expect(dcgan.weights.names()).toContain('batch_normalization/moving_variance');
  });

  it('Keras 2 configs: batch_input_shape, alpha, inbound_nodes as nested lists', () => {
    const g = kerasGenerator(
      file(
        {
          class_name: 'Functional',
          config: {
            layers: [
              { class_name: 'InputLayer', config: { name: 'input_1', batch_input_shape: [null, 4] }, inbound_nodes: [] },
              { class_name: 'Dense', config: { name: 'd', units: 3, activation: 'linear' }, inbound_nodes: [[['input_1', 0, 0, {}]]] },
              { class_name: 'LeakyReLU', config: { name: 'l', alpha: 0.25 }, inbound_nodes: [[['d', 0, 0, {}]]] },
              { class_name: 'LeakyReLU', config: { name: 'l2' }, inbound_nodes: [[['l', 0, 0, {}]]] },
            ],
            input_layers: [['input_1', 0, 0]],
            output_layers: [['l2', 0, 0]],
          },
        },
        new Map([['d', [w(4, 3), w(3)]]]),
        '2.12.0',
      ),
    );
    expect(g.graph.layers).toEqual([
      { type: 'dense', weight: 'd/kernel', bias: 'd/bias', layout: 'in_out' },
      { type: 'leaky_relu', negative_slope: 0.25 },
      { type: 'leaky_relu', negative_slope: 0.3 },
    ]);
  });

  it('an unsupported layer is a ModelFormatError naming the layer and its class', () => {
    const f = file(
      seq(input(4), { class_name: 'Dense', config: { name: 'd', units: 8 } }, { class_name: 'LayerNormalization', config: { name: 'ln' } }),
      new Map([['d', [w(4, 8), w(8)]]]),
    );
    expect(() => kerasGenerator(f)).toThrow(ModelFormatError);
    expect(() => kerasGenerator(f)).toThrow(/layer "ln" \(LayerNormalization\)/);
    const act = file(
      seq(input(4), { class_name: 'Dense', config: { name: 'd', units: 8, activation: 'softmax' } }),
      new Map([['d', [w(4, 8), w(8)]]]),
    );
    expect(() => kerasGenerator(act)).toThrow(/layer "d" \(Dense\): activation "softmax"/);
    const nchw = file(
      seq(
        input(4),
        { class_name: 'Reshape', config: { name: 'r', target_shape: [1, 2, 2] } },
        { class_name: 'UpSampling2D', config: { name: 'u', data_format: 'channels_first' } },
      ),
    );
    expect(() => kerasGenerator(nchw)).toThrow(/layer "u" \(UpSampling2D\): data_format "channels_first"/);
  });

  it('a branching Functional model, a missing weight and an image input are errors', () => {
    const branch = file({
      class_name: 'Functional',
      config: {
        layers: [
          { class_name: 'InputLayer', config: { name: 'a', batch_shape: [null, 4] }, inbound_nodes: [] },
          { class_name: 'InputLayer', config: { name: 'b', batch_shape: [null, 4] }, inbound_nodes: [] },
          {
            class_name: 'Add',
            config: { name: 'add' },
            inbound_nodes: [
              { args: [[{ config: { keras_history: ['a', 0, 0] } }, { config: { keras_history: ['b', 0, 0] } }]], kwargs: {} },
            ],
          },
        ],
        input_layers: [['a', 0, 0], ['b', 0, 0]], // prettier-ignore
        output_layers: [['add', 0, 0]],
      },
    });
    expect(() => kerasGenerator(branch)).toThrow(/2 inputs/);
    expect(() => kerasGenerator(file(seq(input(4), { class_name: 'Dense', config: { name: 'd', units: 8 } })))).toThrow(
      /layer "d" \(Dense\): its kernel weight is missing/,
    );
    const img = file(seq({ class_name: 'InputLayer', config: { name: 'i', batch_shape: [null, 8, 8, 3] } }));
    expect(() => kerasGenerator(img)).toThrow(/a vector of latents/);
  });
});

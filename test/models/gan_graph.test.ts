// CPU-only parts of the GAN generators: the graph schema, lowering (folding, fusing, typed errors),
// the canonical DCGAN recognition, latents and slerp, and the image helpers.
import { describe, expect, it } from 'vitest';
import { SafeTensors } from '../../src/loaders/safetensors.js';
import { ModelFormatError, OptionError } from '../../src/errors.js';
import { dcganGraph, parseGraph, type GeneratorGraph } from '../../src/models/gan/graph.js';
import { Generator } from '../../src/models/gan/generator.js';
import { randomLatents, slerpLatents } from '../../src/models/gan/latents.js';
import { lowerGraph } from '../../src/models/gan/lower.js';
import { gridRgba, imageRgba } from '../../src/models/gan/images.js';

type Spec = Record<string, number[] | { shape: number[]; data: number[] }>;

const safetensors = (tensors: Spec): SafeTensors => SafeTensors.fromBytes(safetensorsBytes(tensors), 'test.safetensors');

/** An in-memory safetensors file of F32 tensors (values 0.1, 0.2, ... unless given). */
function safetensorsBytes(tensors: Spec): Uint8Array {
  const header: Record<string, unknown> = {};
  const blobs: Float32Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const shape = Array.isArray(t) ? t : t.shape;
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Array.isArray(t) ? Float32Array.from({ length: n }, (_, i) => 0.1 * ((i % 7) + 1)) : Float32Array.from(t.data);
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + 4 * n] };
    blobs.push(data);
    offset += 4 * n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const bytes = new Uint8Array(8 + json.length + offset);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
  bytes.set(new TextEncoder().encode(json), 8);
  let p = 8 + json.length;
  for (const b of blobs) {
    bytes.set(new Uint8Array(b.buffer), p);
    p += b.byteLength;
  }
  return bytes;
}

const dcganTensors = (k = 4) => ({
  'main.0.weight': [8, 6, k, k],
  'main.1.weight': [6],
  'main.1.bias': [6],
  'main.1.running_mean': [6],
  'main.1.running_var': [6],
  'main.3.weight': [6, 3, k, k],
});

describe('generator graph schema', () => {
  const bad: [unknown, RegExp][] = [
    [[], /JSON object/],
    [{ layers: [{ type: 'relu' }] }, /"nz"/],
    [{ nz: 4, layers: [] }, /non-empty/],
    [{ nz: 4, layers: [{ type: 'conv3d' }] }, /layer 0 \(conv3d\): unknown type/],
    [{ nz: 4, layers: [{ type: 'conv2d' }] }, /layer 0 \(conv2d\): needs "weight"/],
    [{ nz: 4, layers: [{ type: 'conv2d', weight: 'w', padding: 'full' }] }, /"padding"/],
    [{ nz: 4, layers: [{ type: 'upsample', scale: 0 }] }, /"scale"/],
    [{ nz: 4, layers: [{ type: 'dense' }] }, /needs "weight"/],
    [{ nz: 4, layers: [{ type: 'dense', weight: 'w', layout: 'io' }] }, /"layout" must be "in_out" or "out_in"/],
    [{ nz: 4, layers: [{ type: 'conv_transpose2d', weight: 'w', padding: 'full' }] }, /"padding"/],
    [{ nz: 4, layers: [{ type: 'conv_transpose2d', weight: 'w', padding: 'same', output_padding: 1 }] }, /output_padding/],
    [{ nz: 4, layers: [{ type: 'conv_transpose2d', weight: 'w', stride: 0 }] }, /"stride"/],
    [{ nz: 4, layers: [{ type: 'reshape', shape: [2, 2], layout: 'NCHW' }] }, /three positive integers/],
    [{ nz: 4, layers: [{ type: 'reshape', shape: [1, 2, 2], layout: 'CHW' }] }, /"layout" must be "NCHW" or "NHWC"/],
    [{ nz: 4, layers: [{ type: 'batch_norm', mean: 'm' }] }, /needs "mean" and "var"/],
    [{ nz: 4, layers: [{ type: 'relu' }], output: 'HWC' }, /"output"/],
  ];
  for (const [json, msg] of bad) {
    it(`rejects ${JSON.stringify(json)}`, () => {
      expect(() => parseGraph(json, 'g.json')).toThrow(ModelFormatError);
      expect(() => parseGraph(json, 'g.json')).toThrow(msg);
    });
  }
});

describe('lowering a graph', () => {
  const st = safetensors({
    'fc.weight': [12, 5],
    'fc.bias': [12],
    'bn.weight': [3],
    'bn.bias': [3],
    'bn.running_mean': [3],
    'bn.running_var': [3],
    'up.weight': [3, 4, 4, 4],
    'up.bias': [4],
    'k/kernel': [3, 3, 2, 4],
  });
  const graph = (layers: GeneratorGraph['layers'], extra: Partial<GeneratorGraph> = {}): GeneratorGraph => ({ nz: 5, layers, ...extra });
  const lower = (g: GeneratorGraph) => lowerGraph(parseGraph(g), st);

  it('folds a batch norm through a reshape into the dense weights (NCHW channel of each feature)', () => {
    const p = lower(
      graph([
        { type: 'dense', name: 'fc' },
        { type: 'reshape', shape: [3, 2, 2], layout: 'NCHW' },
        { type: 'batch_norm', name: 'bn' },
        { type: 'relu' },
      ]),
    );
    expect(p.steps.length).toBe(1);
    const s = p.steps[0];
    if (s.kind !== 'conv') throw new Error('expected conv');
    expect(s.fused).toEqual(['bn bn (folded)', 'relu']);
    // feature f belongs to channel floor(f / 4); bias' = b * scale + shift with the fixture's 0.1 * (i % 7 + 1) values
    const v = (i: number) => Math.fround(0.1 * ((i % 7) + 1));
    for (const f of [0, 5, 11]) {
      const c = Math.floor(f / 4);
      const scale = v(c) / Math.sqrt(v(c) + 1e-5);
      expect(s.bias![f]).toBeCloseTo(v(f) * scale + v(c) - v(c) * scale, 6);
    }
    expect(p.output).toMatchObject({ c: 3, h: 2, w: 2, layout: 'NCHW' });
  });

  it('a batch norm after the activation becomes the fused scale-shift; one more becomes a standalone step', () => {
    const p = lower(
      graph(
        [
          { type: 'dense', name: 'fc' },
          { type: 'reshape', shape: [2, 2, 3], layout: 'NHWC' },
          { type: 'relu' },
          { type: 'batch_norm', name: 'bn' },
          { type: 'tanh' },
          { type: 'batch_norm', name: 'bn' },
        ],
        { output: 'NHWC' },
      ),
    );
    expect(p.steps.map((s) => s.kind)).toEqual(['conv', 'pointwise']);
    const [s0, s1] = p.steps;
    if (s0.kind !== 'conv') throw new Error('expected conv');
    expect([s0.act, s0.act2, s0.post?.length]).toEqual(['relu', 'tanh', 24]);
    expect(s1.y.layout).toBe('NHWC');
  });

  it('copies a reshape view into the requested output layout', () => {
    const p = lower(
      graph(
        [
          { type: 'dense', name: 'fc' },
          { type: 'reshape', shape: [3, 2, 2], layout: 'NCHW' },
        ],
        { output: 'NHWC' },
      ),
    );
    expect(p.steps.map((s) => s.label)).toEqual(['fc.weight', 'to NHWC']);
  });

  it('reads Keras and PyTorch transposed-convolution weights and sizes the output', () => {
    const p = lower(
      graph([
        { type: 'dense', name: 'fc' },
        { type: 'reshape', shape: [3, 2, 2], layout: 'NCHW' },
        { type: 'conv_transpose2d', name: 'up', stride: 2, padding: 1, output_padding: 1 },
        { type: 'conv_transpose2d', name: 'k', stride: 2, padding: 'same', bias: false },
      ]),
    );
    const [, a, b] = p.steps;
    expect([a.y.h, a.y.w, b.y.c, b.y.h]).toEqual([5, 5, 2, 10]);
    if (b.kind !== 'conv') throw new Error('expected conv');
    expect([b.pad, b.bias]).toEqual([[0, 0], null]);
  });

  const errors: [GeneratorGraph['layers'], RegExp][] = [
    [[{ type: 'dense', name: 'nope' }], /layer 0 \(dense\): weight tensor "nope.weight" is missing/],
    [[{ type: 'dense', name: 'fc', layout: 'in_out' }], /tensor "fc.weight" has shape \[12, 5\], expected \[5, out\]/],
    [
      [
        { type: 'dense', name: 'fc' },
        { type: 'reshape', shape: [5, 2, 2], layout: 'NCHW' },
      ],
      /holds 20 values, its input has 12/,
    ],
    [
      [
        { type: 'dense', name: 'fc' },
        { type: 'reshape', shape: [3, 2, 2], layout: 'NCHW' },
        { type: 'dense', name: 'fc' },
      ],
      /needs a vector input/,
    ],
    [
      [
        { type: 'dense', name: 'fc' },
        { type: 'reshape', shape: [4, 3, 1], layout: 'NCHW' },
        { type: 'conv_transpose2d', name: 'up' },
      ],
      /"up.weight" has shape \[3, 4, 4, 4\], expected \[4, out, kH, kW\]/,
    ],
    [
      [
        { type: 'dense', name: 'fc' },
        { type: 'reshape', shape: [3, 2, 2], layout: 'NCHW' },
        { type: 'conv_transpose2d', name: 'up', kernel_size: 3 },
      ],
      /kernel_size \[3, 3\] does not match the weight's 4x4/,
    ],
    [
      [
        { type: 'dense', name: 'fc' },
        { type: 'reshape', shape: [3, 2, 2], layout: 'NCHW' },
        { type: 'conv_transpose2d', name: 'up', stride: 2, output_padding: 2 },
      ],
      /output_padding \[2, 2\] must be smaller than the stride/,
    ],
    [
      [
        { type: 'dense', name: 'fc' },
        { type: 'reshape', shape: [3, 2, 2], layout: 'NCHW' },
        { type: 'conv_transpose2d', name: 'up', padding: 3 },
      ],
      /gives an empty/,
    ],
    [
      [
        { type: 'dense', name: 'fc' },
        { type: 'batch_norm', name: 'bn' },
      ],
      /tensor "bn.running_mean" has shape \[3\], expected \[12\]/,
    ],
    [[{ type: 'dense', name: 'fc', bias: 'missing' }], /bias tensor "missing" is missing/],
  ];
  for (const [layers, msg] of errors) {
    it(`typed error: ${msg.source.slice(0, 60)}`, () => {
      expect(() => lower(graph(layers))).toThrow(ModelFormatError);
      expect(() => lower(graph(layers))).toThrow(msg);
    });
  }
});

describe('canonical PyTorch DCGAN recognition', () => {
  it('builds the graph from main.{i}.* names and shapes', () => {
    const g = dcganGraph(safetensors(dcganTensors()).tensors)!;
    expect(g.nz).toBe(8);
    expect(g.layers.map((l) => l.type)).toEqual(['conv_transpose2d', 'batch_norm', 'relu', 'conv_transpose2d', 'tanh']);
    expect(g.layers[0]).toMatchObject({ stride: 1, padding: 0 });
    expect(g.layers[3]).toMatchObject({ stride: 2, padding: 1 });
    const p = lowerGraph(g, safetensors(dcganTensors()));
    expect([p.output.c, p.output.h, p.output.w, p.output.layout]).toEqual([3, 8, 8, 'NCHW']);
  });

  it('returns undefined for other names and explains what does not fit', () => {
    expect(dcganGraph(safetensors({ 'fc.weight': [2, 2] }).tensors)).toBeUndefined();
    expect(() => dcganGraph(safetensors(dcganTensors(3)).tensors)).toThrow(/kernel 3x3, not 4x4/);
    const gap = { ...dcganTensors(), 'main.5.weight': [3, 3, 4, 4] };
    delete (gap as Record<string, unknown>)['main.3.weight'];
    expect(() => dcganGraph(safetensors(gap).tensors)).toThrow(/should be at index 3/);
  });
});

describe('Generator.load without a GPU: graph errors come first', () => {
  it('weights that are not a DCGAN and no graph: a ModelFormatError that says what to do', async () => {
    await expect(Generator.load(safetensorsBytes({ 'fc.weight': [2, 2] }))).rejects.toThrow(/no generator graph.*generator\.json/);
  });
  it('a bad graph option is a ModelFormatError naming options.graph', async () => {
    await expect(
      Generator.load(safetensorsBytes({ 'fc.weight': [2, 2] }), { graph: { nz: 2, layers: [{ type: 'swish' } as never] } }),
    ).rejects.toThrow(/options.graph: layer 0 \(swish\): unknown type/);
  });
  it('a missing folder is a FetchError naming the file', async () => {
    await expect(Generator.load('/nonexistent/gan')).rejects.toThrow(/\/nonexistent\/gan\/model.safetensors/);
  });
});

describe('latents and slerp', () => {
  it('randomLatents is deterministic and standard normal', () => {
    const a = randomLatents(100, 101, 7);
    expect(a).toEqual(randomLatents(100, 101, 7));
    expect(a).not.toEqual(randomLatents(100, 101, 8));
    let m = 0,
      v = 0;
    for (const x of a) m += x / a.length;
    for (const x of a) v += (x - m) ** 2 / a.length;
    expect(Math.abs(m)).toBeLessThan(0.02);
    expect(Math.abs(v - 1)).toBeLessThan(0.03);
    expect(() => randomLatents(0, 4, 1)).toThrow(OptionError);
    expect(() => randomLatents(2, 4, 1.5)).toThrow(OptionError);
  });

  it('slerp keeps the norm between orthogonal latents of equal norm and hits both ends', () => {
    const z0 = [3, 0, 0, 4],
      z1 = [0, 5, 0, 0];
    const w = slerpLatents(z0, z1, 5);
    expect(Array.from(w.subarray(0, 4))).toEqual(z0);
    for (let i = 0; i < 4; i++) expect(w[16 + i]).toBeCloseTo(z1[i], 6);
    for (let f = 0; f < 5; f++) expect(Math.hypot(...w.subarray(4 * f, 4 * f + 4))).toBeCloseTo(5, 5);
    // the midpoint is along z0 + z1
    for (let i = 0; i < 4; i++) expect(w[8 + i]).toBeCloseTo((z0[i] + z1[i]) / Math.SQRT2, 5);
  });

  it('parallel latents fall back to a straight line; one frame is z0; bad frames are an OptionError', () => {
    const w = slerpLatents([1, 2], [2, 4], 3);
    expect(Array.from(w)).toEqual([1, 2, 1.5, 3, 2, 4]);
    expect(Array.from(slerpLatents([1, 2], [3, 4], 1))).toEqual([1, 2]);
    expect(() => slerpLatents([1, 2], [3, 4], 0)).toThrow(OptionError);
    expect(() => slerpLatents([1, 2], [3], 2)).toThrow(OptionError);
  });
});

describe('image helpers', () => {
  it('maps the range to 0..255 in NCHW and NHWC, grey to RGB', () => {
    // one 1x2 RGB image: pixel 0 = (-1, 0, 1), pixel 1 = (1, -1, 0)
    const nchw = Float32Array.from([-1, 1, 0, -1, 1, 0]);
    const nhwc = Float32Array.from([-1, 0, 1, 1, -1, 0]);
    const want = [0, 128, 255, 255, 255, 0, 128, 255];
    expect(Array.from(imageRgba(nchw, { channels: 3, height: 1, width: 2, layout: 'NCHW', range: [-1, 1] }).data)).toEqual(want);
    expect(Array.from(imageRgba(nhwc, { channels: 3, height: 1, width: 2, layout: 'NHWC', range: [-1, 1] }).data)).toEqual(want);
    expect(Array.from(imageRgba([0.5, 2], { channels: 1, height: 1, width: 2, layout: 'NHWC', range: [0, 1] }).data)).toEqual([
      128, 128, 128, 255, 255, 255, 255, 255,
    ]);
    expect(() => imageRgba(nchw, { channels: 2, height: 1, width: 3, layout: 'NCHW', range: [0, 1] })).toThrow(OptionError);
  });

  it('lays out a grid with padding and upscaling', () => {
    const spec = { channels: 1, height: 2, width: 3, layout: 'NCHW' as const, range: [0, 1] as [number, number] };
    const g = gridRgba(new Float32Array(5 * 6).fill(1), spec, { cols: 2, pad: 1, scale: 2 });
    expect([g.width, g.height]).toEqual([2 * 6 + 3, 3 * 4 + 4]);
    expect(g.data[0]).toBe(0); // padding
    expect(g.data[(1 * g.width + 1) * 4]).toBe(255); // first pixel of image 0
    expect(g.data[((2 * 5 + 1) * g.width + 1 + 6 + 1) * 4]).toBe(0); // the empty sixth cell
  });
});

// Generators end to end against PyTorch float64 references (tools/make_gan_fixtures.py), plus batch
// splitting, seeds, latent walks and images, and the project's default generator. (The shared
// reference checkpoints are checked by tools/check_gan_goldens.mjs, outside the suite.)
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { runGan } from '../../src/cli/gan.js';
import { SafeTensors } from '../../src/loaders/safetensors.js';
import { DisposedError, LimitError, OptionError } from '../../src/errors.js';
import { Generator } from '../../src/models/gan/generator.js';
import { assertClose } from '../helpers/assert.js';
import { useGpu } from '../helpers/gpu.js';

const FIXTURES = 'test/fixtures/gan';
const ATOL = 1e-4; // outputs in [-1, 1] or [0, 1]

async function reference(dir: string, file = 'reference.safetensors'): Promise<{ z: Float32Array; images: Float32Array }> {
  const st = await SafeTensors.load(join(dir, file));
  return { z: st.f32('z'), images: st.f32('images') };
}

describe('GAN generators against PyTorch float64 references', () => {
  const gpu = useGpu();

  for (const [name, steps] of [
    ['pt-mixed', 5],
    ['keras', 6],
    ['dense', 3],
    ['dcgan', 4],
  ] as const) {
    it(`${name}`, async () => {
      const gan = await Generator.load(join(FIXTURES, name), { gpu: gpu() });
      const ref = await reference(join(FIXTURES, name));
      console.log(`${name}:\n${gan.describe()}`);
      expect(gan.program.steps.length).toBe(steps);
      const got = await gpu().checked(name, () => gan.generate({ z: ref.z }));
      const r = assertClose(got, ref.images, { atol: ATOL, rtol: 0, what: name });
      console.log(`${name}: max |webgen - pytorch| = ${r.maxAbsError.toExponential(2)}`);
      gan.dispose();
    });
  }

  it('folds a batch norm that follows a conv or dense layer and fuses the rest', async () => {
    const gan = await Generator.load(join(FIXTURES, 'keras'), { gpu: gpu() });
    const d = gan.describe();
    // a dense layer is a matmul whatever its epilogue (matmul and conv_transpose2d share the epilogue module)
    expect(d).toMatch(/dense \(matmul\) dense_1\/kernel: 12 -> 72 \+ bn batch_normalization_1 \(folded\) \+ leaky_relu\(0.3\)/);
    expect(d).toMatch(/conv2d_transpose_1\/kernel: 8x3x3 -> 16x6x6 \+ relu \+ bn batch_normalization_2 \+ leaky_relu\(0.2\)/);
    expect(d).toMatch(/scale_shift batch_normalization_3: 16x6x6 -> 16x6x6 \+ bn batch_normalization_3/);
    expect(gan.image).toEqual({ channels: 3, height: 12, width: 12, layout: 'NHWC', range: [0, 1] });
    gan.dispose();
  });

  it('splits a request larger than maxBatch and reuses the recorded plans', async () => {
    const ref = await reference(join(FIXTURES, 'pt-mixed'));
    const gan = await Generator.load(join(FIXTURES, 'pt-mixed'), { gpu: gpu(), maxBatch: 2 });
    expect(gan.maxBatch).toBe(2);
    assertClose(await gan.generate({ z: ref.z }), ref.images, { atol: ATOL, rtol: 0, what: 'split 2 + 1' });
    const created = gpu().pipelines.created;
    const buffers = gpu().memory().buffersCreated;
    assertClose(await gan.generate({ z: ref.z }), ref.images, { atol: ATOL, rtol: 0, what: 'again' });
    expect(gpu().pipelines.created).toBe(created);
    expect(gpu().memory().buffersCreated - buffers).toBe(0); // z upload and readback reuse the runner's buffers
    gan.dispose();
  });

  it('seeds are deterministic; { count, seed } uses latents(count, seed)', async () => {
    const gan = await Generator.load(join(FIXTURES, 'dcgan'), { gpu: gpu() });
    const a = await gan.generate({ count: 2, seed: 7 });
    const b = await gan.generate({ count: 2, seed: 7 });
    const c = await gan.generate({ z: gan.latents(2, 7) });
    const d = await gan.generate({ count: 2, seed: 8 });
    expect(a).toEqual(b);
    expect(a).toEqual(c);
    expect(a).not.toEqual(d);
    expect(a.length).toBe(2 * 3 * 32 * 32);
    await expect(gan.generate({ z: new Float32Array(15) })).rejects.toThrow(OptionError);
    await expect(gan.generate({ count: 0 })).rejects.toThrow(OptionError);
    gan.dispose();
    await expect(gan.generate({ count: 1 })).rejects.toThrow(DisposedError);
  });

  it('interpolate: the walk starts at z0 and ends at z1', async () => {
    const gan = await Generator.load(join(FIXTURES, 'dcgan'), { gpu: gpu() });
    const z = gan.latents(2, 3);
    const [z0, z1] = [z.subarray(0, 16), z.subarray(16)];
    const walk = await gan.interpolate(z0, z1, 5);
    const ends = await gan.generate({ z });
    const per = gan.outputSize;
    expect(walk.length).toBe(5 * per);
    assertClose(walk.subarray(0, per), ends.subarray(0, per), { atol: 1e-6, rtol: 0, what: 'frame 0' });
    assertClose(walk.subarray(4 * per), ends.subarray(per), { atol: 1e-6, rtol: 0, what: 'last frame' });
    await expect(gan.interpolate(z0, z1.subarray(1), 3)).rejects.toThrow(OptionError);
    gan.dispose();
  });

  it('PNG grid and RGBA images', async () => {
    const gan = await Generator.load(join(FIXTURES, 'dcgan'), { gpu: gpu() });
    const imgs = await gan.generate({ count: 3, seed: 1 });
    const png = PNG.sync.read(Buffer.from(await gan.png(imgs, { cols: 2, pad: 1, scale: 2 })));
    expect([png.width, png.height]).toEqual([2 * 64 + 3, 2 * 64 + 3]);
    const one = gan.toImageData(imgs, 2);
    expect([one.width, one.height, one.data.length]).toEqual([32, 32, 32 * 32 * 4]);
    // pixel (0, 0) of image 2, red channel (NCHW)
    expect(one.data[0]).toBe(Math.min(255, Math.max(0, Math.round(((imgs[2 * 3 * 1024] + 1) / 2) * 255))));
    gan.dispose();
  });

  it('the CLI writes a grid, raw float32 images from --z, and a latent walk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webgen-gan-'));
    try {
      const model = join(FIXTURES, 'dcgan');
      const ref = await reference(model);
      const { writeFile } = await import('node:fs/promises');
      await writeFile(join(dir, 'z.f32'), new Uint8Array(ref.z.buffer));
      expect(await runGan(['--model', model, '--z', join(dir, 'z.f32'), '--out', join(dir, 'images.f32')])).toBe(0);
      const raw = new Float32Array(new Uint8Array(await readFile(join(dir, 'images.f32'))).buffer);
      assertClose(raw, ref.images, { atol: ATOL, rtol: 0, what: 'cli --z' });
      expect(await runGan(['--model', model, '--count', '5', '--seed', '7', '--out', join(dir, 'grid.png')])).toBe(0);
      expect(PNG.sync.read(await readFile(join(dir, 'grid.png'))).width).toBe(3 * 32 + 4 * 2);
      expect(await runGan(['--model', model, '--interpolate', '3', '--out', join(dir, 'walk/')])).toBe(0);
      for (const f of ['frame_000.png', 'frame_001.png', 'frame_002.png']) expect(existsSync(join(dir, 'walk', f))).toBe(true);
      expect(await runGan(['--model', model, '--count', 'x'])).toBe(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const emoji = 'pretrained/dcgan-emoji';
  it('the default generator (pretrained/dcgan-emoji) matches its reference', async () => {
    const gan = await Generator.load(emoji, { gpu: gpu() });
    const ref = await reference(emoji);
    const r = assertClose(await gan.generate({ z: ref.z }), ref.images, { atol: ATOL, rtol: 0, what: 'dcgan-emoji' });
    console.log(`dcgan-emoji: max |webgen - pytorch| = ${r.maxAbsError.toExponential(2)}`);
    expect(gan.image).toEqual({ channels: 3, height: 32, width: 32, layout: 'NCHW', range: [-1, 1] });
    gan.dispose();
    // and it is the CLI's default
    const dir = await mkdtemp(join(tmpdir(), 'webgen-gan-'));
    try {
      expect(await runGan(['--count', '2', '--out', join(dir, 'default.png')])).toBe(0);
      expect(PNG.sync.read(await readFile(join(dir, 'default.png'))).width).toBe(2 * 32 + 3 * 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('batch splitting from the device limits', () => {
  // 16 KiB bindings: the keras fixture's largest activation (11x12x12 floats = 6336 bytes a sample) fits 2 samples
  const gpu = useGpu({ capLimits: { maxStorageBufferBindingSize: 16384 } });

  it('splits to fit one storage binding and still matches', async () => {
    const ref = await reference(join(FIXTURES, 'keras'));
    const gan = await Generator.load(join(FIXTURES, 'keras'), { gpu: gpu() });
    expect(gan.maxBatch).toBe(2);
    assertClose(await gan.generate({ z: ref.z }), ref.images, { atol: ATOL, rtol: 0, what: 'keras split by limits' });
    gan.dispose();
  });

  it('a model whose single sample does not fit is a LimitError', async () => {
    const tiny = await Gpu4k();
    try {
      await expect(Generator.load(join(FIXTURES, 'dcgan'), { gpu: tiny })).rejects.toThrow(LimitError);
    } finally {
      tiny.dispose();
    }
  });
});

async function Gpu4k() {
  const { Gpu } = await import('../../src/runtime/device.js');
  return Gpu.create({ capLimits: { maxStorageBufferBindingSize: 4096 } });
}

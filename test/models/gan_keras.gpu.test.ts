// Generators saved by Keras itself (tools/make_keras_fixtures.py: Keras 3 with the JAX backend), as
// .keras and as legacy .h5, against Keras's own predict() on the same latents.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { runGan } from '../../src/cli/gan.js';
import { ModelFormatError } from '../../src/errors.js';
import { Generator } from '../../src/models/gan/generator.js';
import { assertClose } from '../helpers/assert.js';
import { useGpu } from '../helpers/gpu.js';

const DIR = 'test/fixtures/keras';
const ATOL = 1e-5;

/** The fixture as a path where it is stored plainly, else its unzipped bytes. */
async function source(name: string, ext: 'keras' | 'h5'): Promise<string | Uint8Array> {
  const path = join(DIR, `${name}.${ext}`);
  if (existsSync(path)) return path;
  return new Uint8Array(gunzipSync(await readFile(path + '.gz')));
}

async function f32(path: string): Promise<Float32Array> {
  const b = await readFile(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

describe('Keras files against Keras predict()', () => {
  const gpu = useGpu();
  const steps: Record<string, number> = { seed: 3, dcgan: 4, upconv: 6 };

  for (const name of ['seed', 'dcgan', 'upconv']) {
    for (const ext of ['keras', 'h5'] as const) {
      it(`${name}.${ext}`, async () => {
        const src = await source(name, ext);
        const gan = await Generator.load(src, { gpu: gpu() });
        try {
          const [z, want] = [await f32(join(DIR, `${name}.z.f32`)), await f32(join(DIR, `${name}.out.f32`))];
          const got = await gpu().checked(name, () => gan.generate({ z }));
          const r = assertClose(got, want, { atol: ATOL, rtol: 0, what: `${name}.${ext}` });
          console.log(`${name}.${ext}: max |webgen - keras| = ${r.maxAbsError.toExponential(2)}\n${gan.describe()}`);
          expect(gan.program.steps.length).toBe(steps[name]);
          expect(gan.image.layout).toBe('NHWC');
        } finally {
          gan.dispose();
        }
      });
    }
  }

  it('a .keras File (Blob with a name) loads like its path', async () => {
    const bytes = await readFile(join(DIR, 'dcgan.keras'));
    const file = new File([bytes], 'dcgan.keras');
    const gan = await Generator.load(file, { gpu: gpu() });
    const got = await gan.generate({ z: await f32(join(DIR, 'dcgan.z.f32')) });
    assertClose(got, await f32(join(DIR, 'dcgan.out.f32')), { atol: ATOL, rtol: 0 });
    gan.dispose();
  });

  it('a truncated file is a ModelFormatError naming it', async () => {
    const bytes = new Uint8Array(await readFile(join(DIR, 'upconv.keras'))).subarray(0, 5000);
    await expect(Generator.load(bytes, { gpu: gpu() })).rejects.toThrow(ModelFormatError);
  });

  it('webgen gan --model X.h5 --z Z --out Y.f32 gives Keras predict() (and a PNG grid from a .keras)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webgen-keras-cli-'));
    try {
      const h5 = join(dir, 'upconv.h5');
      await writeFile(h5, (await source('upconv', 'h5')) as Uint8Array);
      expect(await runGan(['--model', h5, '--z', join(DIR, 'upconv.z.f32'), '--out', join(dir, 'out.f32')])).toBe(0);
      assertClose(await f32(join(dir, 'out.f32')), await f32(join(DIR, 'upconv.out.f32')), { atol: ATOL, rtol: 0, what: 'cli upconv.h5' });
      expect(await runGan(['--model', join(DIR, 'dcgan.keras'), '--count', '4', '--out', join(dir, 'grid.png')])).toBe(0);
      expect(existsSync(join(dir, 'grid.png'))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('webgen gan --model X.keras --write-graph DIR writes safetensors + generator.json that load to the same images', async () => {
    const out = await mkdtemp(join(tmpdir(), 'webgen-keras-'));
    try {
      expect(await runGan(['--model', join(DIR, 'upconv.keras'), '--write-graph', out])).toBe(0);
      const json = JSON.parse(await readFile(join(out, 'generator.json'), 'utf8'));
      expect(json.layers.map((l: { type: string }) => l.type)).toContain('upsample');
      const gan = await Generator.load(out, { gpu: gpu() });
      const got = await gan.generate({ z: await f32(join(DIR, 'upconv.z.f32')) });
      assertClose(got, await f32(join(DIR, 'upconv.out.f32')), { atol: ATOL, rtol: 0 });
      gan.dispose();
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

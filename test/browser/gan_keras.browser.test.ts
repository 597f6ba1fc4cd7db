// Files Keras saved, loaded in headless Chromium: .keras files from a URL and as a File, against
// Keras's own predict() (tools/make_keras_fixtures.py).
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertClose } from '../helpers/assert.js';
import { openHarness, type BrowserSession } from '../helpers/browser.js';

async function f32(path: string): Promise<number[]> {
  const b = await readFile(path);
  return Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
}

describe('Keras generators in headless Chromium', () => {
  let s: BrowserSession;
  beforeAll(async () => {
    s = await openHarness();
  });
  afterAll(async () => {
    await s?.close();
  });

  for (const [name, how] of [
    ['dcgan.keras', 'url'],
    ['dcgan.keras', 'file'],
    ['upconv.keras', 'url'],
  ] as const) {
    it(`${name} from a ${how === 'url' ? 'URL' : 'File'} matches Keras predict()`, async () => {
      const base = name.replace(/\.\w+$/, '');
      const z = await f32(`test/fixtures/keras/${base}.z.f32`);
      const out = await s.page.evaluate(
        async (url: string, how: string, z: number[]) => {
          const { Generator } = await (window as any).eval("import('/src/models/gan/generator.ts')");
          let src: unknown = url;
          if (how === 'file') {
            const bytes = await (await fetch(url)).arrayBuffer();
            src = new File([bytes], url.split('/').pop()!);
          }
          const gan = await Generator.load(src);
          const images: Float32Array = await gan.generate({ z: new Float32Array(z) });
          const result = { images: Array.from(images), runtime: gan.gpu.adapter.runtime, layout: gan.image.layout };
          gan.dispose();
          return result;
        },
        `/test/fixtures/keras/${name}`,
        how,
        z,
      );
      expect(out.runtime).toBe('browser');
      expect(out.layout).toBe('NHWC');
      const r = assertClose(out.images, await f32(`test/fixtures/keras/${base}.out.f32`), {
        atol: 1e-5,
        rtol: 0,
        what: `chromium ${name}`,
      });
      console.log(`chromium ${name} (${how}): max |webgen - keras| = ${r.maxAbsError.toExponential(2)}`);
    });
  }
});

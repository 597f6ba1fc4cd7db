// A generator in headless Chromium: weights fetched over HTTP, output checked against the PyTorch
// reference, image helpers returning real ImageData.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SafeTensors } from '../../src/loaders/safetensors.js';
import { assertClose } from '../helpers/assert.js';
import { openHarness, type BrowserSession } from '../helpers/browser.js';

describe('GAN generator in headless Chromium', () => {
  let s: BrowserSession;
  beforeAll(async () => {
    s = await openHarness();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('the canonical DCGAN fixture matches PyTorch and gives ImageData', async () => {
    const ref = await SafeTensors.load('test/fixtures/gan/dcgan/reference.safetensors');
    const out = await s.page.evaluate(
      async (z: number[]) => {
        // through eval: vitest would rewrite a literal import() in this function's source
        const { Generator } = await (window as any).eval("import('/src/models/gan/generator.ts')");
        const gan = await Generator.load({ 'model.safetensors': '/test/fixtures/gan/dcgan/model.safetensors' });
        const images: Float32Array = await gan.generate({ z: new Float32Array(z) });
        const img = gan.toImageData(images, 1);
        const result = {
          images: Array.from(images),
          isImageData: img instanceof ImageData,
          w: img.width,
          h: img.height,
          runtime: gan.gpu.adapter.runtime,
        };
        gan.dispose();
        return result;
      },
      Array.from(ref.f32('z')),
    );
    expect(out.runtime).toBe('browser');
    expect([out.isImageData, out.w, out.h]).toEqual([true, 32, 32]);
    const r = assertClose(out.images, ref.f32('images'), { atol: 1e-4, rtol: 0, what: 'chromium dcgan' });
    console.log(`chromium dcgan: max |webgen - pytorch| = ${r.maxAbsError.toExponential(2)}`);
  });
});

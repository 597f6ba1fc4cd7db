// A real trained Keras 2.12 generator (../shared/real/anime-dcgan/generator.h5, not part of the
// repository) against its float64 golden images: runs where that folder is present.
import { existsSync } from 'node:fs';
import { describe, it } from 'vitest';
import { SafeTensors } from '../../src/loaders/safetensors.js';
import { Generator } from '../../src/models/gan/generator.js';
import { assertClose } from '../helpers/assert.js';
import { useGpu } from '../helpers/gpu.js';

const DIR = '../shared/real/anime-dcgan';
const present = existsSync(`${DIR}/generator.h5`) && existsSync(`${DIR}/golden.safetensors`);

describe.skipIf(!present)('a real Keras 2.12 .h5 generator', () => {
  const gpu = useGpu();
  it('anime-dcgan generator.h5 matches its golden images', async () => {
    const gan = await Generator.load(`${DIR}/generator.h5`, { gpu: gpu() });
    const golden = await SafeTensors.load(`${DIR}/golden.safetensors`);
    const got = await gan.generate({ z: golden.f32('z') });
    const r = assertClose(got, golden.f32('images'), { atol: 1e-4, rtol: 0, what: 'anime-dcgan' });
    console.log(`anime-dcgan generator.h5: max |webgen - golden| = ${r.maxAbsError.toExponential(2)}\n${gan.describe()}`);
    gan.dispose();
  });
});

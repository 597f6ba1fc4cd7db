// Checks webgen's generators against the shared reference checkpoints (not the project's own, so not
// part of the test suite): ../shared/golden/dcgan-tiny (PyTorch DCGAN, recognised from its names) and
// ../shared/real/anime-dcgan (Keras layouts, NHWC). Run `npm run build` first, then
//   node tools/check_gan_goldens.mjs [../shared]
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, SafeTensors } from '../dist/node/index.js';

const shared = process.argv[2] ?? '../shared';

/** darthdaenerys/Anime-Face-Generation's Keras generator, as the checkpoint's README describes it. */
const animeGraph = {
  nz: 128,
  output: 'NHWC',
  layers: [
    { type: 'dense', name: 'dense_43' },
    { type: 'reshape', shape: [4, 4, 128], layout: 'NHWC' },
    ...[
      [55, 44],
      [56, 45],
      [57, 46],
      [58, 47],
    ].flatMap(([c, b]) => [
      { type: 'conv_transpose2d', name: `conv2d_transpose_${c}`, stride: 2, padding: 'same' },
      { type: 'relu' },
      { type: 'batch_norm', name: `batch_normalization_${b}`, eps: 1e-3 },
    ]),
    { type: 'conv_transpose2d', name: 'conv2d_transpose_59', stride: 1, padding: 'same' },
    { type: 'sigmoid' },
  ],
};

let worst = 0;
for (const [dir, graph] of [
  [join(shared, 'golden/dcgan-tiny'), undefined],
  [join(shared, 'real/anime-dcgan'), animeGraph],
]) {
  if (!existsSync(dir)) {
    console.log(`${dir}: not here`);
    continue;
  }
  const gan = await Generator.load(dir, graph ? { graph } : {});
  const ref = await SafeTensors.load(join(dir, 'golden.safetensors'));
  const want = ref.f32('images');
  const got = await gan.generate({ z: ref.f32('z') });
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
  worst = Math.max(worst, err);
  console.log(`${dir}: max |webgen - pytorch| = ${err.toExponential(2)} over ${want.length} values`);
  gan.dispose();
}
process.exitCode = worst <= 1e-4 ? 0 : 1;

// GAN generators, whole: the default generator's architecture (the emoji DCGAN, 32x32) and the
// canonical 64x64 DCGAN, random weights in PyTorch's layout made in memory, batches of 1 and 16, wall
// clock from latents to images on the CPU. The peer is the same network as TensorFlow.js WebGPU ops
// (conv2dTranspose, batchNorm, relu, tanh: what a tfjs-layers model of it runs), fed the same latents;
// the two outputs are compared.
import { Generator } from '../../src/models/gan/generator.js';
import { writeSafetensors, type TensorToWrite } from '../../src/loaders/safetensors.js';
import { randomArray } from '../../src/util.js';
import { compete, e2eContender, wanted, type BenchContext, type Contender } from '../lib/compete.js';
import { figure } from '../lib/stats.js';
import { dcganLayers, GENERATORS, type ConvLayer } from './kernels.js';
import type * as TF from '@tensorflow/tfjs-core';

export const GAN_GROUP = 'GAN generators';

interface Weights {
  layers: ConvLayer[];
  /** PyTorch ConvTranspose2d weights [cin, cout, 4, 4] */
  conv: Float32Array[];
  /** per layer but the last: weight, bias, running_mean, running_var */
  bn: [Float32Array, Float32Array, Float32Array, Float32Array][];
}

function randomWeights(nz: number, ngf: number, nc: number, size: number, seed: number): Weights {
  const layers = dcganLayers(nz, ngf, nc, size);
  const conv: Float32Array[] = [];
  const bn: Weights['bn'] = [];
  layers.forEach((L, i) => {
    conv.push(randomArray(L.cin * L.cout * 16, seed + 10 * i, 0.04));
    if (i < layers.length - 1) {
      const c = L.cout;
      bn.push([
        randomArray(c, seed + 10 * i + 1, 0.1).map((v) => 1 + v),
        randomArray(c, seed + 10 * i + 2, 0.1),
        randomArray(c, seed + 10 * i + 3, 0.1),
        randomArray(c, seed + 10 * i + 4, 0.2).map((v) => 1 + Math.abs(v)),
      ]);
    }
  });
  return { layers, conv, bn };
}

/** The weights as a PyTorch DCGAN state dict (main.{i}.*) in a safetensors file. */
function toSafetensors(w: Weights): Uint8Array {
  const t: Record<string, TensorToWrite> = {};
  w.layers.forEach((L, i) => {
    t[`main.${3 * i}.weight`] = { data: w.conv[i], shape: [L.cin, L.cout, 4, 4] };
    if (i < w.bn.length) {
      const [g, b, m, v] = w.bn[i];
      t[`main.${3 * i + 1}.weight`] = { data: g, shape: [L.cout] };
      t[`main.${3 * i + 1}.bias`] = { data: b, shape: [L.cout] };
      t[`main.${3 * i + 1}.running_mean`] = { data: m, shape: [L.cout] };
      t[`main.${3 * i + 1}.running_var`] = { data: v, shape: [L.cout] };
    }
  });
  return writeSafetensors(t);
}

/** The same network in TF.js ops, NHWC; returns [B, size, size, nc]. */
function tfModel(tf: typeof TF, w: Weights) {
  const filters = w.layers.map((L, i) => {
    const src = w.conv[i];
    const dst = new Float32Array(src.length); // [cin, cout, kh, kw] -> [kh, kw, cout, cin]
    for (let ci = 0; ci < L.cin; ci++)
      for (let co = 0; co < L.cout; co++)
        for (let t = 0; t < 16; t++) dst[(t * L.cout + co) * L.cin + ci] = src[(ci * L.cout + co) * 16 + t];
    return tf.tensor4d(dst, [4, 4, L.cout, L.cin]);
  });
  const bn = w.bn.map(([g, b, m, v]) => [tf.tensor1d(g), tf.tensor1d(b), tf.tensor1d(m), tf.tensor1d(v)] as const);
  const forward = (z: Float32Array, B: number) =>
    tf.tidy(() => {
      let h: TF.Tensor4D = tf.tensor4d(z, [B, 1, 1, w.layers[0].cin]);
      w.layers.forEach((L, i) => {
        const hout = (L.hin - 1) * L.s - 2 * L.p + 4;
        h = tf.conv2dTranspose(h, filters[i], [B, hout, hout, L.cout], L.s, L.p === 0 ? 'valid' : 'same');
        if (i < bn.length) {
          const [g, b, m, v] = bn[i];
          h = tf.relu(tf.batchNorm(h, m, v, b, g, 1e-5));
        } else h = tf.tanh(h);
      });
      return h;
    });
  const dispose = () => {
    for (const f of filters) f.dispose();
    for (const b of bn) for (const t of b) t.dispose();
  };
  return { forward, dispose };
}

export async function runGan(ctx: BenchContext): Promise<void> {
  for (const [gi, g] of GENERATORS.entries()) {
    if (!wanted(ctx, `${GAN_GROUP} ${g.short}`)) continue;
    const w = randomWeights(g.nz, g.ngf, g.nc, g.size, 100 * (gi + 1));
    const bytes = toSafetensors(w);
    const loads: number[] = [];
    let gen: Generator | undefined;
    for (let i = 0; i < (ctx.quick ? 1 : 3); i++) {
      gen?.dispose();
      const t0 = performance.now();
      gen = await Generator.load(bytes, { gpu: ctx.gpu });
      await ctx.gpu.device.queue.onSubmittedWorkDone();
      loads.push(performance.now() - t0);
    }
    ctx.rows.push({
      group: GAN_GROUP,
      case: `${g.short} load`,
      engine: 'webgen',
      ms: figure(loads),
      method: 'e2e',
      note: `${(bytes.length / 2 ** 20).toFixed(1)} MiB of f32 weights (random), batch norms folded at load`,
    });
    const tfm = ctx.tf ? tfModel(ctx.tf.tf, w) : undefined;
    try {
      for (const B of [1, 16]) {
        const z = gen!.latents(B, 7);
        let mine: Float32Array | undefined;
        let theirs: Float32Array | undefined;
        const size = g.size;
        const contenders: Contender[] = [
          e2eContender(
            'webgen',
            async () => {},
            async () => {
              mine = await gen!.generate({ z });
            },
            { note: 'generate({ z }): latents in, NCHW float32 images out' },
          ),
        ];
        if (tfm) {
          contenders.push(
            e2eContender(
              'tfjs',
              async () => {},
              async () => {
                const y = tfm.forward(z, B);
                theirs = (await y.data()) as Float32Array;
                y.dispose();
              },
              {
                check: async () => {
                  // compare with webgen's output (NCHW) once both ran
                  if (!mine) mine = await gen!.generate({ z });
                  let maxDiff = 0;
                  for (let n = 0; n < B; n++)
                    for (let c = 0; c < g.nc; c++)
                      for (let yy = 0; yy < size; yy++)
                        for (let x = 0; x < size; x++) {
                          const a = mine[((n * g.nc + c) * size + yy) * size + x];
                          const b = theirs![((n * size + yy) * size + x) * g.nc + c];
                          maxDiff = Math.max(maxDiff, Math.abs(a - b));
                        }
                  return { ok: maxDiff < 1e-3, relErr: maxDiff, firstBad: maxDiff < 1e-3 ? undefined : `max |webgen - tfjs| = ${maxDiff}` };
                },
                note: 'conv2dTranspose, batchNorm, relu, tanh ops in NHWC; data() read back; checked against webgen',
              },
            ),
          );
        }
        // the 64x64 batch of 16 is a target: 5 rounds at least, however slow
        await compete(ctx, GAN_GROUP, `${g.short} batch ${B}`, { flops: ganFlops(w.layers, B) }, contenders, {
          minRounds: B === 16 && g.size === 64 ? 5 : 0,
        });
      }
    } finally {
      tfm?.dispose();
      gen?.dispose();
    }
  }
}

function ganFlops(layers: ConvLayer[], B: number): number {
  return layers.reduce((a, L) => a + 2 * B * L.hin * L.hin * L.cin * L.cout * 16, 0);
}

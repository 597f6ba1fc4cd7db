// GAN generators, whole: the default generator's architecture (the emoji DCGAN, 32x32) and the
// canonical 64x64 DCGAN, random weights in PyTorch's layout made in memory, batches of 1 and 16, wall
// clock from latents to images on the CPU. The peer is the same network as TensorFlow.js WebGPU ops
// (conv2dTranspose, batchNorm, relu, tanh: what a tfjs-layers model of it runs), fed the same latents;
// the two outputs are compared.
import { Generator, lowerGraph, type Value } from '../../src/models/generator.js';
import { dcganGraph } from '../../src/models/generator-graph.js';
import { convTranspose2d, layoutStrides, type View4 } from '../../src/kernels/conv_transpose2d.js';
import { matmul } from '../../src/kernels/matmul.js';
import { scaleShift } from '../../src/kernels/scale_shift.js';
import { SafeTensors, writeSafetensors, type TensorToWrite } from '../../src/loaders/safetensors.js';
import { Plan } from '../../src/runtime/plan.js';
import { Tensor } from '../../src/runtime/tensor.js';
import { convTranspose2dVec } from '../kernels/conv_transpose2d_vec.js';
import { randomArray } from '../lib/check.js';
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
      for (let co = 0; co < L.cout; co++) for (let t = 0; t < 16; t++) dst[(t * L.cout + co) * L.cin + ci] = src[(ci * L.cout + co) * 16 + t];
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
    ctx.rows.push({ group: GAN_GROUP, case: `${g.short} load`, engine: 'webgen', ms: figure(loads), method: 'e2e', note: `${(bytes.length / 2 ** 20).toFixed(1)} MiB of f32 weights (random), batch norms folded at load` });
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
        if (ctx.variants) contenders.push(variantGenerator(ctx, bytes, z, B, () => mine));
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
        await compete(ctx, GAN_GROUP, `${g.short} batch ${B}`, { flops: ganFlops(w.layers, B) }, contenders);
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

/**
 * The generator as src lowers it (batch norms folded, activations fused), recorded with bench/kernels'
 * competing kernels: conv_transpose2d_vec for every layer with cout % 4 == 0, and the first layer (a
 * 1x1 input, stride 1, no padding) as src's matmul on the weight laid out [cin, kh*kw*cout]. Other
 * layers (the RGB output) use src's kernel. Checked against webgen's images.
 */
function variantGenerator(ctx: BenchContext, bytes: Uint8Array, z: Float32Array, B: number, reference: () => Float32Array | undefined): Contender {
  const gpu = ctx.gpu;
  const made: Tensor[] = [];
  let plan: Plan | undefined;
  let buffers: Tensor[] = [];
  let staging: GPUBuffer | undefined;
  let outBuf = 0;
  let outBytes = 0;
  let got: Float32Array | undefined;
  const upload = (data: Float32Array, shape: number[], label: string) => {
    const t = Tensor.from(gpu, data, shape, 'f32', label);
    made.push(t);
    return t;
  };
  const call = async () => {
    buffers[0].write(z);
    const enc = gpu.device.createCommandEncoder({ label: 'variant generator' });
    plan!.encode(enc);
    enc.copyBufferToBuffer(buffers[outBuf].buffer, 0, staging!, 0, outBytes);
    gpu.device.queue.submit([enc.finish()]);
    await staging!.mapAsync(GPUMapMode.READ, 0, outBytes);
    got = new Float32Array(staging!.getMappedRange(0, outBytes).slice(0));
    staging!.unmap();
  };
  return e2eContender(
    'variant vec4',
    async () => {
      const st = SafeTensors.fromBytes(bytes, 'variant.safetensors');
      const program = lowerGraph(dcganGraph(st.tensors, st.fileName)!, st);
      buffers = program.bufferSizes.map((n, i) => Tensor.empty(gpu, [B, n], 'f32', `variant act${i}`));
      outBuf = program.output.buf;
      outBytes = B * program.output.c * program.output.h * program.output.w * 4;
      staging = gpu.createBuffer({ label: 'variant readback', size: outBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const view = (v: Value): View4 => ({ batch: B, c: v.c, h: v.h, w: v.w, strides: layoutStrides(v.layout, v.c, v.h, v.w) });
      plan = new Plan(gpu, 'variant generator');
      for (const s of program.steps) {
        if (s.kind === 'pointwise') {
          const affine = s.affine ? upload(s.affine, [2, s.y.c], `${s.label} affine`) : undefined;
          await scaleShift(plan, buffers[s.x.buf], view(s.x), buffers[s.y.buf], view(s.y), { affine, act: s.act, slope: s.slope });
          continue;
        }
        const [cin, cout] = [s.x.c, s.y.c];
        const bias = s.bias ? upload(s.bias, [cout], `${s.label} bias`) : undefined;
        const post = s.post ? upload(s.post, [2, cout], `${s.label} post`) : undefined;
        const asMatmul =
          s.x.h === 1 && s.x.w === 1 && s.stride[0] === 1 && s.stride[1] === 1 && s.pad[0] === 0 && s.pad[1] === 0 &&
          s.y.h === s.kh && s.y.w === s.kw && s.y.layout === 'NHWC' && !post && s.act2 === 'none' && (s.act !== 'leaky_relu' || s.slope === 0.2);
        if (asMatmul) {
          // y[n, ky, kx, co] = act(sum_ci x[n, ci] w[ky, kx, ci, co] + b[co]): x [B, cin] . W' [cin, kh*kw*cout]
          const taps = s.kh * s.kw;
          const wm = new Float32Array(s.weight.length);
          for (let t = 0; t < taps; t++) for (let ci = 0; ci < cin; ci++) for (let co = 0; co < cout; co++) wm[ci * taps * cout + t * cout + co] = s.weight[(t * cin + ci) * cout + co];
          const bm = bias ? upload(Float32Array.from({ length: taps * cout }, (_, i) => s.bias![i % cout]), [taps * cout], `${s.label} bias x taps`) : undefined;
          const w = upload(wm, [cin, taps * cout], s.label);
          const y = buffers[s.y.buf];
          await matmul(plan, buffers[s.x.buf], w, y, { bias: bm, activation: s.act, rows: B });
        } else {
          const w = upload(s.weight, [s.kh, s.kw, cin, cout], s.label);
          const opts = { stride: s.stride, padding: s.pad, bias, post, act: s.act, slope: s.slope, act2: s.act2, slope2: s.slope2 };
          if (cout % 4 === 0) await convTranspose2dVec(plan, buffers[s.x.buf], view(s.x), w, buffers[s.y.buf], view(s.y), opts);
          else await convTranspose2d(plan, buffers[s.x.buf], view(s.x), w, buffers[s.y.buf], view(s.y), opts);
        }
      }
    },
    call,
    {
      check: async () => {
        const ref = reference();
        if (!ref || !got) return { ok: false, relErr: Infinity, firstBad: 'no webgen output to compare with' };
        let d = 0;
        for (let i = 0; i < ref.length; i++) d = Math.max(d, Math.abs(ref[i] - got[i]));
        return { ok: d < 1e-3, relErr: d, firstBad: d < 1e-3 ? undefined : `max |variant - webgen| = ${d}` };
      },
      dispose: () => {
        plan?.dispose();
        for (const t of [...made, ...buffers]) t.dispose();
        if (staging) gpu.destroyBuffer(staging);
      },
      note: 'src lowering; bench/kernels/conv_transpose2d_vec for cout % 4 == 0, the 1x1 first layer as a matmul',
    },
  );
}

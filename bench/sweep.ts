// Tuning sweep of the competing matmul (bench/kernels/matmul_vec4): rows per invocation and workgroup
// size, at GPT-2 124M's shapes, on the Node adapter (WEBGEN_VULKAN, default lavapipe), interleaved rounds.
//   npx vite build --config bench/vite.config.ts && node bench/out/sweep.js [--shape 128x768x2304] [--dtype f16]
import { parseArgs } from 'node:util';
import { ChunkedTensor } from '../src/runtime/chunked.js';
import { Gpu } from '../src/runtime/device.js';
import { Plan } from '../src/runtime/plan.js';
import { Tensor } from '../src/runtime/tensor.js';
import { matmul } from '../src/kernels/matmul.js';
import { matmulVec4 } from './kernels/matmul_vec4.js';
import { randomArray } from './lib/check.js';
import { encodeInto } from './lib/compete.js';
import { figure, interleave } from './lib/stats.js';
import { GpuTimer } from './lib/timer.js';

async function main(): Promise<void> {
  const { values: v } = parseArgs({ options: { shape: { type: 'string', multiple: true }, dtype: { type: 'string' }, rounds: { type: 'string' } } });
  process.env.WEBGEN_VULKAN ??= 'lavapipe';
  const gpu = await Gpu.create();
  const timer = new GpuTimer(gpu.device, gpu.hasTimestamps);
  const dtype = (v.dtype ?? 'f32') as 'f32' | 'f16';
  const shapes = v.shape ?? ['128x768x2304', '1x768x2304', '1x768x50257nk'];
  for (const s of shapes) {
    const nk = s.endsWith('nk');
    const [M, K, N] = s.replace('nk', '').split('x').map(Number);
    const x = Tensor.from(gpu, randomArray(M * K, 1), [M, K], 'f32', 'x');
    const w = nk ? ChunkedTensor.from(gpu, randomArray(N * K, 2, 0.03), N, K, dtype, 'w') : Tensor.from(gpu, randomArray(K * N, 2, 0.03), [K, N], dtype, 'w');
    const out = Tensor.empty(gpu, [M, N], 'f32', 'out');
    const configs: { name: string; record: (p: Plan) => Promise<void> }[] = [{ name: 'src', record: (p) => matmul(p, x, w, out, { layout: nk ? 'nk' : 'kn' }) }];
    for (const tm of M > 2 ? [4, 8, 16] : [1, 2]) for (const wg of [64, 256]) configs.push({ name: `vec4 tm=${tm} wg=${wg}`, record: (p) => matmulVec4(p, x, w, out, { layout: nk ? 'nk' : 'kn', tm, wg }) });
    const plans: Plan[] = [];
    for (const c of configs) {
      const p = new Plan(gpu, c.name);
      await c.record(p);
      await timer.run(1, (pass) => encodeInto(pass, p));
      plans.push(p);
    }
    const samples = await interleave(
      plans.map((p) => async () => {
        const r = await timer.run(M > 2 ? 1 : 8, (pass) => encodeInto(pass, p));
        return r.gpuMs ?? r.wallMs;
      }),
      { minRounds: Number(v.rounds ?? 5), maxRounds: Number(v.rounds ?? 5), budgetMs: 0 },
    );
    console.log(`\n${s} ${dtype} (${gpu.adapter.description})`);
    configs.forEach((c, i) => {
      const f = figure(samples[i]);
      console.log(`  ${c.name.padEnd(22)} ${f.median.toFixed(2).padStart(9)} ms  (${f.min.toFixed(2)}-${f.max.toFixed(2)})  ${((2 * M * K * N) / (f.median * 1e6)).toFixed(2)} GFLOP/s`);
    });
    for (const p of plans) p.dispose();
    for (const t of [x, w, out]) t.dispose();
  }
  timer.dispose();
  gpu.dispose();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

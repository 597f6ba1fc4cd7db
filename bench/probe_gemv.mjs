// Where a CPU-shaped decode GEMV's time goes on a software adapter: the kernel webgen runs (vec4.wgsl's
// or q8.wgsl's gemv_nk, 16 columns an invocation) over a 768 x 32768 weight, "cold" as in a model (every
// invocation streams its own 16 rows) and "hot" (the same instructions, but every invocation reads the
// same four rows, so the weights stay in cache). hot is the instructions' cost; cold - hot is what
// fetching the weights from memory adds. Prints a table; min of --rounds runs of --reps dispatches each.
//
//   npm run build:package && node bench/probe_gemv.mjs [--rounds 3] [--reps 5]
//
// (lavapipe by default; WEBGEN_VULKAN=swiftshader for SwiftShader, as the CLI.)
import { parseArgs } from 'node:util';
import { kernelSource } from '../dist/node/kernels.js';
import { Gpu } from '../dist/node/index.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, reps: { type: 'string', default: '5' } } });
const N = 32768;
const K = 768;
const gpu = await Gpu.create();
const device = gpu.device;
const U = globalThis.GPUBufferUsage;

function buffer(bytes, usage = U.STORAGE) {
  return device.createBuffer({ size: Math.ceil(bytes / 16) * 16, usage: usage | U.COPY_DST });
}
function random(bytes, fill) {
  const b = buffer(bytes);
  const words = new Uint32Array(Math.ceil(bytes / 16) * 4);
  for (let i = 0; i < words.length; i++) words[i] = fill(i);
  device.queue.writeBuffer(b, 0, words);
  return b;
}
const f32Bits = new Float32Array(1);
const f32BitsU = new Uint32Array(f32Bits.buffer);
const f32Word = () => ((f32Bits[0] = Math.random() - 0.5), f32BitsU[0]);
const f16Pair = () => 0x2c002c00 ^ ((Math.random() * 0x03ff03ff) >>> 0); // two halves of +-0.06..0.12
const x = random(K * 4, f32Word);
const bias = random(N * 4, () => 0);
const y = buffer(N * 4);
const scales = random(Math.ceil(K / 32) * N * 2, () => 0x20002000); // f16 scales 2^-7
const weights = {
  f32: random(N * K * 4, f32Word),
  f16packed: random(N * K * 2, f16Pair),
  q8: random(N * K, () => (Math.random() * 2 ** 32) >>> 0),
};

// [example, weight buffer, words per row (q8's ldw), the pattern of a weight row's index, its hot form]
const floatRows = [/let r(\d+) = min\(c0 \+ (\d+)u, u\.N - 1u\) \* K4;/g, 'let r$1 = ($2u % 4u) * K4;'];
const cases = [
  ['gemv-f32', 'f32', 0, ...floatRows],
  ['gemv-f16-packed', 'f16packed', 0, ...floatRows],
  ['gemv-q8', 'q8', K / 4, /let w(\d+) = min\(c0 \+ (\d+)u, u\.N - 1u\) \* rw;/g, 'let w$1 = ($2u % 4u) * rw;'],
];

async function pipelineFor(source) {
  const module = device.createShaderModule({ code: source });
  return device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'gemv_nk', constants: { WG: 16 } } });
}

async function time(pipeline, format, ldw) {
  const meta = device.createBuffer({ size: 32, usage: U.UNIFORM | U.COPY_DST });
  device.queue.writeBuffer(meta, 0, new Uint32Array([1, N, K, 0, N, 0, ldw, 0]));
  const entries = [meta, x, weights[format], bias, null, y].flatMap((b, i) => (b ? [{ binding: i, resource: { buffer: b } }] : []));
  if (format === 'q8') entries.push({ binding: 6, resource: { buffer: scales } });
  const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
  const times = [];
  for (let r = 0; r < Number(values.reps); r++) {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(Math.ceil(N / 16 / 16));
    pass.end();
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    times.push(performance.now() - t0);
  }
  meta.destroy();
  return Math.min(...times);
}

const pipelines = [];
for (const [example, format, ldw, pattern, hot] of cases) {
  const { source } = kernelSource('matmul', example);
  const hotSource = source.replace(pattern, hot);
  if (hotSource === source) throw new Error(`${example}: the weight rows' pattern was not found (gemv_nk changed?)`);
  pipelines.push({ example, format, ldw, cold: await pipelineFor(source), hot: await pipelineFor(hotSource), t: { cold: [], hot: [] } });
}
for (let round = 0; round < Number(values.rounds); round++) {
  for (const p of pipelines) for (const which of ['cold', 'hot']) p.t[which].push(await time(p[which], p.format, p.ldw));
}
const bytes = { f32: 4, f16packed: 2, q8: 1 + 2 / 32 };
const f32 = pipelines[0];
const min = (a) => Math.min(...a);
console.log(`${gpu.adapter.description}: gemv_nk, x [1, ${K}] . W [${N}, ${K}], min of ${values.rounds} rounds x ${values.reps}`);
console.log('| weights | MB | cold ms | hot ms | cold - hot ms | cold vs f32 | hot vs f32 | memory vs f32 |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const p of pipelines) {
  const [c, h] = [min(p.t.cold), min(p.t.hot)];
  const [c0, h0] = [min(f32.t.cold), min(f32.t.hot)];
  const mb = ((N * K * bytes[p.format]) / 1e6).toFixed(1);
  const r = (a, b) => (a / b).toFixed(2);
  console.log(
    `| ${p.format} | ${mb} | ${c.toFixed(1)} | ${h.toFixed(1)} | ${(c - h).toFixed(1)} | ${r(c, c0)} | ${r(h, h0)} | ${r(c - h, c0 - h0)} |`,
  );
}
for (const b of [x, bias, y, scales, ...Object.values(weights)]) b.destroy();
gpu.dispose();

import template from './embedding.wgsl?raw';
import { OptionError } from '../errors.js';
import type { ChunkedTensor } from '../runtime/chunked.js';
import { Q8Tensor } from '../runtime/q8.js';
import { grid1d, type Binding, type Plan } from '../runtime/plan.js';
import type { Kernel } from '../runtime/pipelines.js';
import type { Tensor } from '../runtime/tensor.js';
import { STEP, uniformStruct } from './uniform.js';
import { enables, fill, Q8_UNPACK, q8Scales, weightAccess, weightFormat, type WeightFormat } from './wgsl.js';

const META = uniformStruct('Meta', { R: 'u32', C: 'u32', chunkStart: 'u32', chunkRows: 'u32' });

export type EmbeddingParams = { readonly wte: WeightFormat; readonly wpe: WeightFormat; readonly workgroupSize: number };

/** `fn wte_row(r: u32, c: u32) -> f32`: element c of row r of this chunk of wte (binding 3; q8 scales at 6). */
function wteRow(format: WeightFormat): string {
  if (format !== 'q8') return weightAccess(format, 3, 'wte') + 'fn wte_row(r: u32, c: u32) -> f32 { return wte_at(r * u.C + c); }\n';
  // a q8 row (runtime/q8.ts, layout 'nk'): ceil(C / 32) * 8 words, four int8 per word; scales [blocks, chunkRows up to 4]
  return `@group(0) @binding(3) var<storage, read> wte: array<u32>;
${q8Scales(6, '((u.chunkRows + 3u) / 4u)')}fn wte_row(r: u32, c: u32) -> f32 {
  let v = wte[r * ((u.C + 31u) / 32u) * 8u + c / 4u];
  return f32(bitcast<i32>(v << (24u - 8u * (c & 3u))) >> 24u) * scale1(c / 32u, r);
}\n`;
}

export const embeddingKernel: Kernel<EmbeddingParams> = {
  name: 'embedding',
  source: (p) =>
    fill(template, {
      PRELUDE: enables(p.wte, p.wpe) + weightAccess(p.wpe, 4, 'wpe'),
      WTE: wteRow(p.wte),
      META: META.declare(0, 'u'),
      STEP: STEP.declare(1, 'step'),
    }),
  constants: (p) => ({ WG: p.workgroupSize }),
};

/**
 * Records x[R, C] = wte[ids] + wpe[positions]. `step` is the Step uniform (uniform.ts): row r is
 * token r % T of its sequence, at position pos0 + r % T. wte may be 8-bit (a Q8Tensor packed 'nk'):
 * each row read is dequantized.
 */
export async function embedding(
  plan: Plan,
  ids: Tensor,
  wte: ChunkedTensor | Q8Tensor,
  wpe: Tensor,
  step: Binding,
  x: Tensor,
  rows: number,
): Promise<void> {
  const [, C] = wte.shape;
  if (wpe.shape[1] !== C)
    throw new OptionError(
      `embedding: wpe "${wpe.label}" [${wpe.shape.join(', ')}] and wte "${wte.label}" [${wte.shape.join(', ')}] differ in width`,
    );
  if (ids.dtype !== 'u32') throw new OptionError(`embedding: ids "${ids.label}" must be u32, got ${ids.dtype}`);
  if (ids.size < rows || x.size < rows * C)
    throw new OptionError(`embedding: ${rows} rows do not fit ids "${ids.label}" or x "${x.label}"`);
  const workgroupSize = 64;
  if (wte instanceof Q8Tensor && wte.layout !== 'nk')
    throw new OptionError(`embedding: q8 wte "${wte.label}" must be packed for layout 'nk' (rows of C), got '${wte.layout}'`);
  const chunks: readonly { tensor: Tensor; start: number; rows: number; scales?: Tensor }[] =
    wte instanceof Q8Tensor ? wte.chunks.map((c) => ({ ...c, tensor: c.words })) : wte.chunks;
  for (const chunk of chunks) {
    const meta = plan.uniform(META.pack({ R: rows, C, chunkStart: chunk.start, chunkRows: chunk.rows }), 'embedding.meta');
    const params: EmbeddingParams = {
      wte: weightFormat(wte.dtype, plan.gpu.hasF16),
      wpe: weightFormat(wpe.dtype, plan.gpu.hasF16),
      workgroupSize,
    };
    await plan.add(
      embeddingKernel,
      params,
      [meta, step, ids, chunk.tensor, wpe, x, chunk.scales],
      grid1d(Math.ceil((rows * C) / workgroupSize)),
      `embedding ${chunk.tensor.label}`,
      // the rows of wte this chunk holds (at most `rows`), their positions' rows of wpe, x
      {
        reads:
          rows * 4 + rows * C * ((wte instanceof Q8Tensor ? 1 : chunk.tensor.byteLength / chunk.tensor.size) + wpe.byteLength / wpe.size),
        writes: rows * C * 4,
      },
    );
  }
}

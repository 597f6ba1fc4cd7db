import template from './embedding.wgsl?raw';
import { OptionError } from '../errors.js';
import type { ChunkedTensor } from '../runtime/chunked.js';
import { grid1d, type Binding, type Plan } from '../runtime/plan.js';
import type { Kernel } from '../runtime/pipelines.js';
import type { Tensor } from '../runtime/tensor.js';
import { STEP, uniformStruct } from './uniform.js';
import { enables, fill, weightAccess, weightFormat, type WeightFormat } from './wgsl.js';

const META = uniformStruct('Meta', { R: 'u32', C: 'u32', chunkStart: 'u32', chunkRows: 'u32' });

export type EmbeddingParams = { readonly wte: WeightFormat; readonly wpe: WeightFormat; readonly workgroupSize: number };

export const embeddingKernel: Kernel<EmbeddingParams> = {
  name: 'embedding',
  source: (p) =>
    fill(template, {
      PRELUDE: enables(p.wte, p.wpe) + weightAccess(p.wte, 3, 'wte') + weightAccess(p.wpe, 4, 'wpe'),
      META: META.declare(0, 'u'),
      STEP: STEP.declare(1, 'step'),
    }),
  constants: (p) => ({ WG: p.workgroupSize }),
};

/**
 * Records x[R, C] = wte[ids] + wpe[positions]. `step` is the Step uniform (uniform.ts): row r is
 * token r % T of its sequence, at position pos0 + r % T.
 */
export async function embedding(
  plan: Plan,
  ids: Tensor,
  wte: ChunkedTensor,
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
  for (const chunk of wte.chunks) {
    const meta = plan.uniform(META.pack({ R: rows, C, chunkStart: chunk.start, chunkRows: chunk.rows }), 'embedding.meta');
    const params: EmbeddingParams = {
      wte: weightFormat(chunk.tensor.dtype, plan.gpu.hasF16),
      wpe: weightFormat(wpe.dtype, plan.gpu.hasF16),
      workgroupSize,
    };
    await plan.add(
      embeddingKernel,
      params,
      [meta, step, ids, chunk.tensor, wpe, x],
      grid1d(Math.ceil((rows * C) / workgroupSize)),
      `embedding ${chunk.tensor.label}`,
      // the rows of wte this chunk holds (at most `rows`), their positions' rows of wpe, x
      { reads: rows * 4 + rows * C * (chunk.tensor.byteLength / chunk.tensor.size + wpe.byteLength / wpe.size), writes: rows * C * 4 },
    );
  }
}

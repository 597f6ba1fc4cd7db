// Every example of the kernel catalog compiles to a pipeline on this adapter (native-f16 examples
// only where the adapter has shader-f16): the snapshots in test/kernels/wgsl/ are WGSL that runs.
import { describe, expect, it } from 'vitest';
import { KERNEL_CATALOG } from '../../src/kernels/index.js';
import { useGpu } from '../helpers/gpu.js';

describe('kernel catalog', () => {
  const gpu = useGpu();
  for (const [kernel, entry] of Object.entries(KERNEL_CATALOG)) {
    it(`${kernel}: every example compiles`, async () => {
      const g = gpu();
      let built = 0;
      for (const [name, params] of Object.entries(entry.examples)) {
        const source = entry.kernel.source(params);
        if (/^\s*enable f16;/m.test(source) && !g.hasF16) continue;
        // matmul's kernels have an entry point per layout; the catalog's kernel object names none
        const layout = params.layout === 'kn' ? 'kn' : 'nk';
        const entryPoint = source.includes('fn main_nk') ? `main_${layout}` : source.includes('fn gemv_kn') ? `gemv_${layout}` : undefined;
        await expect(g.pipelines.get({ ...entry.kernel, name: `${kernel} ${name}`, entryPoint }, params)).resolves.toBeDefined();
        built++;
      }
      expect(built).toBeGreaterThan(0);
    });
  }
});

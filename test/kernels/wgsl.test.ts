// The WGSL each kernel really runs, for the catalog's example params, kept as snapshots in
// test/kernels/wgsl/: a change to a template or a generated piece shows up in review as a diff of the
// assembled source. `webgen wgsl KERNEL --example NAME` prints the same text; regenerate the files
// with `npx vitest run --project unit -u test/kernels/wgsl.test.ts`.
import { describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors.js';
import { KERNEL_CATALOG, kernelSource } from '../../src/kernels/index.js';

describe('assembled WGSL of every catalog example', () => {
  for (const [kernel, entry] of Object.entries(KERNEL_CATALOG)) {
    for (const example of Object.keys(entry.examples)) {
      it(`${kernel} ${example}`, async () => {
        const { source } = kernelSource(kernel, example);
        expect(source).not.toMatch(/\{\{\w+\}\}/); // every template placeholder filled
        await expect(source).toMatchFileSnapshot(`./wgsl/${kernel}.${example}.wgsl`);
      });
    }
  }

  it('params override an example, and unknown names are OptionErrors that list the choices', () => {
    const packed = kernelSource('matmul', 'gemv-f32', { weight: 'f16packed' }).source;
    expect(packed).toMatch(/array<vec2u>/);
    expect(kernelSource('matmul', 'gemv-f32').source).toMatch(/array<vec4f>/);
    expect(() => kernelSource('nope')).toThrow(OptionError);
    expect(() => kernelSource('nope')).toThrow(/kernels: add, /);
    expect(() => kernelSource('matmul', 'nope')).toThrow(/examples: gemv-f32/);
  });
});

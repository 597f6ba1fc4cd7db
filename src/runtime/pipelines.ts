// Compute pipelines, created once per (kernel, params) and cached. Every creation runs inside an
// error scope, so a WGSL error or a bad override constant is a ShaderError that names its kernel.
import { ShaderError } from '../errors.js';
import type { Gpu } from './device.js';

/** The values a kernel variant depends on. Keys become part of the cache key in a stable order. */
export type KernelParams = Readonly<Record<string, number | boolean | string>>;

/** A kernel: a WGSL source (possibly specialised by params) and its override constants. */
export interface Kernel<P extends KernelParams> {
  /** Names the kernel in errors, labels and timings. */
  readonly name: string;
  /** The WGSL source for these params (e.g. native f16 or packed-f16 variants). */
  source(params: P): string;
  /** WGSL `override` constants (tile and workgroup sizes) for these params. */
  constants?(params: P): Record<string, number>;
  readonly entryPoint?: string;
}

function stableKey(name: string, params: KernelParams): string {
  const keys = Object.keys(params).sort();
  return name + JSON.stringify(keys.map((k) => [k, params[k]]));
}

export class PipelineCache {
  private readonly cache = new Map<string, Promise<GPUComputePipeline>>();
  /** How many pipelines have been created (not served from the cache). */
  created = 0;

  constructor(private readonly gpu: Gpu) {}

  get<P extends KernelParams>(kernel: Kernel<P>, params: P): Promise<GPUComputePipeline> {
    const key = stableKey(kernel.name, params);
    let p = this.cache.get(key);
    if (!p) {
      p = this.create(kernel, params);
      this.cache.set(key, p);
      p.catch(() => this.cache.delete(key));
    }
    return p;
  }

  private async create<P extends KernelParams>(kernel: Kernel<P>, params: P): Promise<GPUComputePipeline> {
    const device = this.gpu.device;
    const label = `${kernel.name}${JSON.stringify(params)}`;
    const code = kernel.source(params);
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ label, code });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) {
      await device.popErrorScope();
      const lines = code.split('\n');
      const detail = errors
        .map((m) => `  line ${m.lineNum}:${m.linePos}: ${m.message}\n    ${lines[m.lineNum - 1]?.trim() ?? ''}`)
        .join('\n');
      throw new ShaderError(`WGSL of kernel "${kernel.name}" failed to compile:\n${detail}`);
    }
    let pipeline: GPUComputePipeline;
    try {
      pipeline = await device.createComputePipelineAsync({
        label,
        layout: 'auto',
        compute: { module, entryPoint: kernel.entryPoint ?? 'main', constants: kernel.constants?.(params) },
      });
    } catch (e) {
      await device.popErrorScope();
      throw new ShaderError(`pipeline of kernel "${kernel.name}" (${JSON.stringify(params)}) failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const err = await device.popErrorScope();
    if (err) throw new ShaderError(`pipeline of kernel "${kernel.name}" (${JSON.stringify(params)}) failed: ${err.message}`);
    this.created++;
    return pipeline;
  }

  clear(): void {
    this.cache.clear();
  }
}

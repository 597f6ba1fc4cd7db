// A recorded list of kernel dispatches. Models build their forward pass once (pipelines, bind groups
// and buffers made at load time); running it is then one compute pass in one command buffer.
import type { Gpu } from './device.js';
import type { Kernel, KernelParams } from './pipelines.js';
import { Tensor } from './tensor.js';

/** A buffer binding: a tensor, a raw buffer, or a byte range of one. */
export type Binding = Tensor | GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** The Step uniform's values a pass runs with (what a dispatch's traffic may depend on). */
export interface StepValues {
  pos0: number;
  T: number;
  B: number;
}

/** Bytes a dispatch reads and writes in device memory: fixed, or a function of the pass's step. */
export type Traffic = { reads: number; writes: number } | ((step: StepValues) => { reads: number; writes: number });

export interface Dispatch {
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: readonly [number, number, number];
  /** The kernel's name and its workgroup size (invocations per workgroup). */
  readonly kernel: string;
  readonly workgroupSize: number;
  /** What the kernel reads and writes (its op's estimate); undefined: the op gave none. */
  readonly traffic?: Traffic;
}

const isBuffer = (b: Binding): b is GPUBuffer => typeof (b as GPUBuffer).mapAsync === 'function';

function resource(b: Binding): GPUBufferBinding {
  if (b instanceof Tensor) return { buffer: b.buffer };
  if (isBuffer(b)) return { buffer: b };
  return { buffer: b.buffer, offset: b.offset ?? 0, size: b.size };
}

/** Binds `bindings[i]` to @binding(i) of @group(0); undefined entries are bindings the variant lacks. */
export function bindGroup(gpu: Gpu, pipeline: GPUComputePipeline, bindings: readonly (Binding | undefined)[], label: string): GPUBindGroup {
  const entries: GPUBindGroupEntry[] = [];
  bindings.forEach((b, i) => {
    if (b !== undefined) entries.push({ binding: i, resource: resource(b) });
  });
  return gpu.device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0), entries });
}

/**
 * Splits a 1-D count of workgroups over x and y so neither exceeds the per-dimension limit.
 * Shaders recover the linear index as `wid.x + wid.y * nwg.x` and skip indices past the end.
 */
export function grid1d(groups: number, maxPerDim = 65535): [number, number, number] {
  if (groups <= maxPerDim) return [Math.max(1, groups), 1, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y, 1];
}

export class Plan {
  readonly dispatches: Dispatch[] = [];
  /** Buffers the plan owns (uniforms of its dispatches); destroyed by dispose(). */
  private readonly owned: GPUBuffer[] = [];
  private readonly scratch = new Map<string, GPUBuffer>();

  constructor(
    readonly gpu: Gpu,
    readonly label = 'plan',
  ) {}

  /** Appends one dispatch of `kernel` specialised by `params`. */
  async add<P extends KernelParams>(
    kernel: Kernel<P>,
    params: P,
    bindings: readonly (Binding | undefined)[],
    workgroups: readonly [number, number?, number?],
    label = kernel.name,
    traffic?: Traffic,
  ): Promise<void> {
    const pipeline = await this.gpu.pipelines.get(kernel, params);
    const bg = bindGroup(this.gpu, pipeline, bindings, label);
    const workgroupSize = Number(kernel.constants?.(params)?.WG ?? 64);
    this.dispatches.push({
      label,
      pipeline,
      bindGroup: bg,
      workgroups: [workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1],
      kernel: kernel.name,
      workgroupSize,
      traffic,
    });
  }

  /** A uniform buffer owned by this plan, holding a kernel's runtime sizes (its `Meta` struct). */
  uniform(values: ArrayBufferView, label = 'meta'): GPUBuffer {
    const b = this.gpu.uniform(values, `${this.label}/${label}`);
    this.owned.push(b);
    return b;
  }

  /**
   * A storage buffer owned by this plan, for a kernel's scratch (partial results between two of its
   * dispatches). The same label returns the same buffer, grown as needed: the dispatches of a pass
   * run in order, so the layers of a model share one.
   */
  storage(bytes: number, label: string): GPUBuffer {
    const have = this.scratch.get(label);
    if (have && have.size >= bytes) return have;
    // a smaller one stays owned (earlier dispatches bind it) until dispose()
    const b = this.gpu.createBuffer({ label: `${this.label}/${label}`, size: bytes, usage: GPUBufferUsage.STORAGE });
    this.scratch.set(label, b);
    this.owned.push(b);
    return b;
  }

  /** Records every dispatch into one compute pass of `encoder`. */
  encode(encoder: GPUCommandEncoder, timestampWrites?: GPUComputePassTimestampWrites): void {
    const pass = encoder.beginComputePass({ label: this.label, timestampWrites });
    for (const d of this.dispatches) {
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
    }
    pass.end();
  }

  /** Submits the whole plan as one command buffer. */
  submit(): void {
    const encoder = this.gpu.device.createCommandEncoder({ label: this.label });
    this.encode(encoder);
    this.gpu.submit([encoder.finish()]);
  }

  dispose(): void {
    for (const b of this.owned) this.gpu.destroyBuffer(b);
    this.owned.length = 0;
    this.scratch.clear();
    this.dispatches.length = 0;
  }
}

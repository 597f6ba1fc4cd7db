// One way to get a WebGPU device in a page, a Web Worker or Node (Dawn through the `webgpu` package),
// plus the bookkeeping every other part of the engine relies on: effective limits, features,
// a count of live GPU buffers and bytes, and the pipeline cache.
import {
  DeviceLostError,
  DisposedError,
  GPUValidationError,
  LimitError,
  OptionError,
  OutOfMemoryError,
  WebGPUUnavailableError,
} from '../errors.js';
import { PipelineCache } from './pipelines.js';
import { Readback } from './readback.js';
import { isNode } from '../util.js';

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** 'browser' (navigator.gpu in a page or worker) or 'node' (Dawn). */
  runtime: 'browser' | 'node';
}

/** The limits the engine plans its buffers and dispatches against. */
export interface EngineLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupsPerDimension: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxStorageBuffersPerShaderStage: number;
  minStorageBufferOffsetAlignment: number;
}

export interface GpuOptions {
  /** Use this adapter instead of requesting one. */
  adapter?: GPUAdapter;
  powerPreference?: GPUPowerPreference;
  /**
   * Lower the limits the engine plans against (never raises them). Used by tests to prove that a
   * tensor larger than a binding is split, without needing a large model, and that kernels fit
   * WebGPU's guaranteed 16 KiB of workgroup storage.
   */
  capLimits?: Partial<Pick<EngineLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize' | 'maxComputeWorkgroupStorageSize'>>;
  /** Ignore the adapter's `shader-f16` feature, to exercise the packed-f16 path on any adapter. */
  disableF16?: boolean;
  /**
   * Called when the device is lost for a reason other than dispose(). From then on every call on the
   * device's models rejects with a DeviceLostError: load them again (on a new Gpu), or reload the page.
   */
  onLost?: (info: GPUDeviceLostInfo) => void;
  /**
   * The most bytes of buffers this Gpu may hold at once (default: no budget; WebGPU does not say how
   * much memory a device has). A buffer past it throws an OutOfMemoryError, and GPT2.load refuses a
   * model whose GPT2.estimateMemory() does not fit in what is left, before it allocates anything.
   */
  memoryBudget?: number;
}

export interface MemoryStats {
  liveBuffers: number;
  liveBytes: number;
  peakBytes: number;
  buffersCreated: number;
}

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';

let nodeGpu: Promise<GPU> | undefined;

/**
 * Node only: `WEBGEN_VULKAN=swiftshader|lavapipe` picks a software Vulkan driver by pointing
 * VK_ICD_FILENAMES at its manifest before Dawn creates its Vulkan instance (it reads the variable once).
 */
function chooseVulkanDriver(): void {
  const want = process.env.WEBGEN_VULKAN;
  if (!want) return;
  const icd = want === 'swiftshader' ? SWIFTSHADER_ICD : want === 'lavapipe' ? LAVAPIPE_ICD : want;
  process.env.VK_ICD_FILENAMES = icd;
}

async function nodeNavigatorGpu(): Promise<GPU> {
  nodeGpu ??= (async () => {
    chooseVulkanDriver();
    const moduleName = 'webgpu';
    let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
    try {
      mod = await import(/* @vite-ignore */ moduleName);
    } catch (e) {
      throw new WebGPUUnavailableError('WebGPU for Node needs the npm package `webgpu` (Dawn): run `npm install webgpu`.', { cause: e });
    }
    // The WebGPU constants (GPUBufferUsage, ...) are globals in browsers; Dawn hands them to us.
    for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) (globalThis as any)[k] = v;
    return mod.create([]);
  })();
  return nodeGpu;
}

/** The WebGPU entry point of this environment, or a typed error that says what to install. */
export async function navigatorGpu(): Promise<GPU> {
  const nav = (globalThis as any).navigator as Navigator | undefined;
  if (nav?.gpu) return nav.gpu;
  if (isNode) return nodeNavigatorGpu();
  throw new WebGPUUnavailableError(
    'This browser has no WebGPU (navigator.gpu is undefined). Use Chrome/Edge 113+, Safari 18+ or ' +
      'Firefox 141+; on Linux Chromium start it with --enable-unsafe-webgpu, and serve the page over https or localhost.',
  );
}

const NO_ADAPTER_NODE =
  'Dawn found no WebGPU adapter. On a Linux machine without a GPU install a software Vulkan driver: ' +
  "Mesa 25's lavapipe (Debian: add bookworm-backports, then `apt-get install -t bookworm-backports " +
  'mesa-vulkan-drivers`) or SwiftShader (`apt-get install chromium`, then WEBGEN_VULKAN=swiftshader). ' +
  'Run `bash .ci/setup` to do this.';

/** A WebGPU device with the engine's bookkeeping. Create with `Gpu.create()`, end with `dispose()`. */
export class Gpu {
  readonly pipelines: PipelineCache;
  private readonly live = new Map<GPUBuffer, number>();
  private stats_: MemoryStats = { liveBuffers: 0, liveBytes: 0, peakBytes: 0, buffersCreated: 0 };
  private disposed = false;
  private lostInfo?: { reason: string; message: string };
  /** See GpuOptions.memoryBudget (Infinity: none). */
  memoryBudget = Infinity;
  /** Command buffers submitted through submit(): generation checks it is one per token. */
  submits = 0;

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterDescription,
    readonly limits: EngineLimits,
    /** Native `f16` in WGSL; otherwise f16 data is stored packed, two halves per u32. */
    readonly hasF16: boolean,
    readonly hasTimestamps: boolean,
  ) {
    this.pipelines = new PipelineCache(this);
  }

  static async create(options: GpuOptions = {}): Promise<Gpu> {
    const budget = options.memoryBudget;
    if (budget !== undefined && !(typeof budget === 'number' && budget > 0))
      throw new OptionError(`memoryBudget must be a positive number of bytes, got ${JSON.stringify(budget)}`);
    let adapter = options.adapter;
    if (!adapter) {
      const gpu = await navigatorGpu();
      adapter = (await gpu.requestAdapter({ powerPreference: options.powerPreference })) ?? undefined;
      if (!adapter) {
        throw new WebGPUUnavailableError(
          isNode ? NO_ADAPTER_NODE : 'navigator.gpu.requestAdapter() returned null: WebGPU is disabled or unsupported on this device.',
        );
      }
    }
    const a = adapter.limits;
    // Ask for the adapter's own limits where they matter to us; the defaults (128 MiB bindings,
    // 256 MiB buffers) are far below what a GPU offers and what gpt2-medium needs.
    const requiredLimits: Record<string, number> = {
      maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
      maxBufferSize: a.maxBufferSize,
      // capped here too, so a kernel that outgrows a capped size fails as it would on such a device
      maxComputeWorkgroupStorageSize: Math.min(
        a.maxComputeWorkgroupStorageSize,
        options.capLimits?.maxComputeWorkgroupStorageSize ?? Infinity,
      ),
      maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: a.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: a.maxComputeWorkgroupSizeY,
      maxStorageBuffersPerShaderStage: a.maxStorageBuffersPerShaderStage,
    };
    const features: GPUFeatureName[] = [];
    const hasF16 = adapter.features.has('shader-f16') && !options.disableF16;
    if (hasF16) features.push('shader-f16');
    const hasTimestamps = adapter.features.has('timestamp-query');
    if (hasTimestamps) features.push('timestamp-query');
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
    } catch (e) {
      throw new LimitError(`requestDevice failed with the adapter's own limits: ${(e as Error).message}`, { cause: e });
    }
    const info = (adapter as any).info ?? {};
    const description: AdapterDescription = {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      runtime: isNode ? 'node' : 'browser',
    };
    const d = device.limits;
    const cap = options.capLimits ?? {};
    const limits: EngineLimits = {
      maxStorageBufferBindingSize: Math.min(d.maxStorageBufferBindingSize, cap.maxStorageBufferBindingSize ?? Infinity),
      maxBufferSize: Math.min(d.maxBufferSize, cap.maxBufferSize ?? Infinity),
      maxComputeWorkgroupsPerDimension: d.maxComputeWorkgroupsPerDimension,
      maxComputeWorkgroupStorageSize: Math.min(d.maxComputeWorkgroupStorageSize, cap.maxComputeWorkgroupStorageSize ?? Infinity),
      maxComputeInvocationsPerWorkgroup: d.maxComputeInvocationsPerWorkgroup,
      maxStorageBuffersPerShaderStage: d.maxStorageBuffersPerShaderStage,
      minStorageBufferOffsetAlignment: d.minStorageBufferOffsetAlignment,
    };
    const g = new Gpu(device, description, limits, hasF16, hasTimestamps);
    g.memoryBudget = budget ?? Infinity;
    device.lost.then((lost) => {
      if (g.disposed) return;
      g.lostInfo = { reason: String(lost.reason), message: lost.message };
      options.onLost?.(lost);
    });
    return g;
  }

  /** Creates a buffer that counts toward the live-memory statistics. */
  createBuffer(desc: GPUBufferDescriptor): GPUBuffer {
    this.assertAlive();
    if (desc.size > this.limits.maxBufferSize) {
      throw new LimitError(
        `buffer "${desc.label ?? '?'}" needs ${desc.size} bytes but this device's maxBufferSize is ` +
          `${this.limits.maxBufferSize}; the tensor must be split or a smaller model used.`,
      );
    }
    const size = Math.max(4, Math.ceil(desc.size / 4) * 4);
    const s = this.stats_;
    if (s.liveBytes + size > this.memoryBudget) {
      throw new OutOfMemoryError(
        `buffer "${desc.label ?? '?'}" of ${size} bytes would take this Gpu past its memoryBudget of ${this.memoryBudget} bytes ` +
          `(${s.liveBytes} in use): dispose models no longer needed, use dtype 'f16' or a smaller model, or raise memoryBudget.`,
      );
    }
    const buffer = this.device.createBuffer({ ...desc, size });
    this.live.set(buffer, size);
    s.liveBuffers++;
    s.liveBytes += size;
    s.buffersCreated++;
    s.peakBytes = Math.max(s.peakBytes, s.liveBytes);
    return buffer;
  }

  /** Destroys a buffer made by createBuffer (idempotent). */
  destroyBuffer(buffer: GPUBuffer): void {
    const size = this.live.get(buffer);
    if (size === undefined) return;
    this.live.delete(buffer);
    this.stats_.liveBuffers--;
    this.stats_.liveBytes -= size;
    buffer.destroy();
  }

  /** A snapshot of live GPU buffers and bytes (for leak tests and memory figures). */
  memory(): MemoryStats {
    return { ...this.stats_ };
  }

  /** A uniform buffer holding `data`, ready to bind; write new values with queue.writeBuffer. */
  uniform(data: ArrayBufferView, label = 'uniform'): GPUBuffer {
    const buffer = this.createBuffer({
      label,
      size: Math.ceil(data.byteLength / 16) * 16,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return buffer;
  }

  /** Submits command buffers, counting them. */
  submit(commands: GPUCommandBuffer[]): void {
    this.submits += commands.length;
    this.device.queue.submit(commands);
  }

  /** Copies `byteLength` bytes of a GPU buffer back to the CPU. */
  async read(src: GPUBuffer, byteLength: number, srcOffset = 0): Promise<ArrayBuffer> {
    this.assertAlive();
    const r = new Readback(this, byteLength);
    try {
      return await r.run(undefined, src, byteLength, srcOffset);
    } finally {
      r.dispose();
    }
  }

  /** Runs `fn` inside validation and out-of-memory error scopes; throws a GPUValidationError naming `what`. */
  async checked<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    let result: T;
    try {
      result = await fn();
    } finally {
      const validation = await this.device.popErrorScope();
      const oom = await this.device.popErrorScope();
      const err = validation ?? oom;
      if (err) throw new GPUValidationError(`${what}: ${err.message}`);
    }
    return result;
  }

  /**
   * A CPU implementation of WebGPU (lavapipe/llvmpipe, SwiftShader, WARP): kernels that suit a CPU's
   * caches (each invocation streaming its own contiguous row) beat GPU-shaped ones there.
   */
  get isSoftware(): boolean {
    const a = this.adapter;
    return (
      a.architecture === 'swiftshader' ||
      a.architecture === 'software' ||
      /llvmpipe|lavapipe|swiftshader|warp|basic render/i.test(`${a.device} ${a.description}`)
    );
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** The device was lost (not by dispose()): nothing on it runs again. See DeviceLostError. */
  get isLost(): boolean {
    return this.lostInfo !== undefined;
  }

  /** Throws a DisposedError after dispose(), a DeviceLostError once the device was lost. */
  assertAlive(): void {
    if (this.disposed) throw new DisposedError('this Gpu was disposed; create a new one with Gpu.create()');
    if (this.lostInfo) throw this.lostError();
  }

  /** The error every call on a lost device gets: what happened, and what to do. */
  lostError(cause?: unknown): DeviceLostError {
    const l = this.lostInfo ?? { reason: 'unknown', message: '' };
    return new DeviceLostError(
      `the GPU device was lost (${l.reason}${l.message ? `: ${l.message}` : ''}): the models and buffers on it are gone. ` +
        'Load the model again (GPT2.load / Generator.load make a new device; a shared Gpu must be made again with Gpu.create()), ' +
        'or reload the page.',
      { cause },
    );
  }

  /** `e` as callers should see it: a DeviceLostError (with `e` as its cause) once this device was lost, otherwise `e`. */
  explain(e: unknown): unknown {
    return this.lostInfo && !this.disposed && !(e instanceof DeviceLostError) ? this.lostError(e) : e;
  }

  /**
   * Why mapping `buffer` failed (mapAsync rejects with a bare AbortError when the device is lost or the
   * buffer destroyed): a DeviceLostError (the lost promise may settle just after the map's rejection,
   * so it is given a moment), a DisposedError when the buffer was freed, otherwise `e`.
   */
  async mapFailure(e: unknown, buffer: GPUBuffer): Promise<unknown> {
    if (!this.lostInfo && !this.disposed && this.live.has(buffer)) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([this.device.lost, new Promise((r) => (timer = setTimeout(r, 200)))]);
      clearTimeout(timer);
    }
    if (this.lostInfo && !this.disposed) return this.lostError(e);
    if (this.disposed || !this.live.has(buffer))
      return new DisposedError('a read back from the GPU was cut short: its buffer was freed (the model or its Gpu was disposed)', {
        cause: e,
      });
    return e;
  }

  /**
   * A watch for the device's own out-of-memory errors while buffers are made: run() each synchronous
   * allocation in it, then check() (see MemoryWatch).
   */
  watchMemory(): MemoryWatch {
    return new MemoryWatch(this.device);
  }

  /** Destroys every buffer still alive and the device itself. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    for (const b of [...this.live.keys()]) this.destroyBuffer(b);
    this.pipelines.clear();
    this.disposed = true;
    this.device.destroy();
  }
}

/**
 * The device's out-of-memory errors, collected while buffers are made. A device that cannot back a
 * buffer does not throw from createBuffer: it reports to an error scope, later. Each run() wraps one
 * synchronous piece of work (buffers made and written) in its own scope, so no other work's errors
 * land in it (a scope held across an await would catch whatever else ran meanwhile); check() waits for
 * the verdicts and throws an OutOfMemoryError naming what did not fit.
 */
export class MemoryWatch {
  private readonly verdicts: Promise<string | undefined>[] = [];

  constructor(private readonly device: GPUDevice) {}

  run<T>(what: string, fn: () => T): T {
    this.device.pushErrorScope('out-of-memory');
    let value: T;
    try {
      value = fn();
    } finally {
      this.verdicts.push(
        this.device.popErrorScope().then(
          (e) => (e ? `"${what}": ${e.message}` : undefined),
          () => undefined,
        ),
      );
    }
    return value;
  }

  /** Throws an OutOfMemoryError when an allocation failed; `context` says what was being loaded and what it needs. */
  async check(context: string): Promise<void> {
    const failed = (await Promise.all(this.verdicts.splice(0))).filter((v) => v !== undefined);
    if (failed.length)
      throw new OutOfMemoryError(`${context}: the GPU ran out of memory (${failed.length} allocation(s) failed, first ${failed[0]})`);
  }
}

// A GPU tensor: one storage buffer, a shape and a dtype. f16 data has the same byte layout whether
// the adapter has `shader-f16` (read as array<f16>) or not (read as array<u32>, two halves per word).
import type { Gpu } from './device.js';
import { DisposedError, OptionError } from '../errors.js';
import { f16ArrayToF32, f32ArrayToF16 } from './half.js';

export type DType = 'f32' | 'f16' | 'i32' | 'u32';

export const BYTES_PER_ELEMENT: Record<DType, number> = { f32: 4, f16: 2, i32: 4, u32: 4 };

export type HostArray = Float32Array | Uint16Array | Int32Array | Uint32Array;

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export class Tensor {
  private buffer_: GPUBuffer | undefined;

  private constructor(
    readonly gpu: Gpu,
    buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly label: string,
  ) {
    this.buffer_ = buffer;
  }

  get size(): number {
    return numel(this.shape);
  }

  get byteLength(): number {
    return this.size * BYTES_PER_ELEMENT[this.dtype];
  }

  get buffer(): GPUBuffer {
    if (!this.buffer_) throw new DisposedError(`tensor "${this.label}" was disposed`);
    return this.buffer_;
  }

  get isDisposed(): boolean {
    return !this.buffer_;
  }

  /** A tensor of zeros (WebGPU zero-initialises buffers). */
  static empty(gpu: Gpu, shape: readonly number[], dtype: DType, label = 'tensor', extraUsage = 0): Tensor {
    checkShape(shape, label);
    const bytes = numel(shape) * BYTES_PER_ELEMENT[dtype];
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage;
    return new Tensor(gpu, gpu.createBuffer({ label, size: bytes, usage }), shape, dtype, label);
  }

  /**
   * Uploads host data. For dtype 'f16' pass either Uint16Array (half bits, stored as is) or
   * Float32Array (rounded to half on the CPU).
   */
  static from(gpu: Gpu, data: HostArray, shape: readonly number[], dtype: DType, label = 'tensor'): Tensor {
    const n = numel(shape);
    if (data.length !== n) {
      throw new OptionError(`tensor "${label}": ${data.length} values do not fill shape [${shape.join(', ')}] (${n})`);
    }
    let host: HostArray = data;
    if (dtype === 'f16' && data instanceof Float32Array) host = f32ArrayToF16(data);
    else if (dtype === 'f32' && !(data instanceof Float32Array)) host = Float32Array.from(data);
    else if (dtype === 'i32' && !(data instanceof Int32Array)) host = Int32Array.from(data);
    else if (dtype === 'u32' && !(data instanceof Uint32Array)) host = Uint32Array.from(data);
    const t = Tensor.empty(gpu, shape, dtype, label);
    try {
      t.write(host);
    } catch (e) {
      t.dispose();
      throw e;
    }
    return t;
  }

  /** Overwrites the tensor's contents from host data of the same element count. */
  write(host: HostArray, elementOffset = 0): void {
    const bytes = host.byteLength;
    // writeBuffer wants a multiple of 4 bytes: an odd count of halves gets one zero half of padding.
    if (bytes % 4 !== 0) {
      const padded = new Uint8Array(bytes + 2);
      padded.set(new Uint8Array(host.buffer, host.byteOffset, bytes));
      this.gpu.device.queue.writeBuffer(this.buffer, elementOffset * BYTES_PER_ELEMENT[this.dtype], padded);
    } else {
      this.gpu.device.queue.writeBuffer(this.buffer, elementOffset * BYTES_PER_ELEMENT[this.dtype], host.buffer, host.byteOffset, bytes);
    }
  }

  /** Reads the whole tensor back; f16 comes back as float32 values. */
  async read(): Promise<Float32Array | Int32Array | Uint32Array> {
    const raw = await this.gpu.read(this.buffer, this.byteLength);
    switch (this.dtype) {
      case 'f32':
        return new Float32Array(raw);
      case 'f16':
        return f16ArrayToF32(new Uint16Array(raw));
      case 'i32':
        return new Int32Array(raw);
      case 'u32':
        return new Uint32Array(raw);
    }
  }

  async readFloat32(): Promise<Float32Array> {
    const v = await this.read();
    return v instanceof Float32Array ? v : Float32Array.from(v);
  }

  dispose(): void {
    if (this.buffer_) this.gpu.destroyBuffer(this.buffer_);
    this.buffer_ = undefined;
  }
}

function checkShape(shape: readonly number[], label: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new OptionError(`tensor "${label}": bad shape [${shape.join(', ')}]`);
  }
}

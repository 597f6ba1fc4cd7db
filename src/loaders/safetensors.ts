// safetensors: an 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the tensor data.
import { ModelFormatError } from '../errors.js';
import { bf16ArrayToF32, f16ArrayToF32, f32ArrayToF16 } from '../runtime/half.js';
import { readJson, readSource, type ModelSource, type ReadOptions } from './fetch.js';

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

const DTYPE_BYTES: Record<SafetensorsDType, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

export interface TensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** Offset of the tensor's first byte from the start of the file. */
  readonly byteOffset: number;
  readonly byteLength: number;
}

/** The header's length N from the first 8 bytes; `fileBytes` (when known) bounds it. */
export function headerLength(first8: Uint8Array, fileName: string, fileBytes?: number): number {
  const n = Number(new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true));
  if ((fileBytes !== undefined && n > fileBytes - 8) || n > 100 * 2 ** 20)
    throw new ModelFormatError(
      `${fileName}: header length ${n} exceeds the file${fileBytes !== undefined ? ` (${fileBytes} bytes)` : ''}: not a safetensors file or truncated`,
    );
  return n;
}

/**
 * Parses and checks a header (the N bytes after the length): dtypes, shapes, offsets, sizes; byte
 * offsets are returned from the start of the file. `dataBytes`, when known, bounds every tensor.
 */
export function parseHeader(
  headerBytes: Uint8Array,
  fileName: string,
  dataBytes?: number,
): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  const fail = (msg: string): never => {
    throw new ModelFormatError(`${fileName}: ${msg}`);
  };
  let header: any;
  try {
    header = JSON.parse(new TextDecoder().decode(headerBytes));
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const base = 8 + headerBytes.byteLength;
  const metadata: Record<string, string> = header.__metadata__ ?? {};
  if (
    typeof metadata !== 'object' ||
    metadata === null ||
    Array.isArray(metadata) ||
    Object.values(metadata).some((m) => typeof m !== 'string')
  )
    fail('"__metadata__" must be an object of strings');
  const tensors = new Map<string, TensorInfo>();
  for (const [name, v] of Object.entries(header as Record<string, any>)) {
    if (name === '__metadata__') continue;
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      fail(`tensor "${name}" is not an object with dtype, shape and data_offsets`);
    if (!Array.isArray(v.data_offsets) || v.data_offsets.length !== 2)
      fail(`tensor "${name}" has bad data_offsets ${JSON.stringify(v.data_offsets)}`);
    const dtype = v?.dtype as SafetensorsDType;
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype))
      fail(`tensor "${name}" has unsupported dtype ${JSON.stringify(v?.dtype)}`);
    const shape = v.shape as number[];
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
      fail(`tensor "${name}" has a bad shape ${JSON.stringify(v.shape)}`);
    const [b, e] = (v.data_offsets ?? []) as number[];
    if (!Number.isInteger(b) || !Number.isInteger(e) || b < 0 || e < b)
      fail(`tensor "${name}" has bad data_offsets ${JSON.stringify(v.data_offsets)}`);
    if (dataBytes !== undefined && e > dataBytes)
      fail(`tensor "${name}" ends at byte ${e} of the data but the data section has only ${dataBytes} bytes (file truncated?)`);
    const expected = shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[dtype];
    if (e - b !== expected)
      fail(`tensor "${name}" (${dtype} [${shape.join(', ')}]) should take ${expected} bytes, its offsets give ${e - b}`);
    tensors.set(name, { name, dtype, shape, byteOffset: base + b, byteLength: e - b });
  }
  const duplicate = firstDuplicateKey(headerBytes);
  if (duplicate !== undefined) fail(`tensor "${duplicate}" appears twice in the header`);
  // the format's rule: the tensors tile the data section, in offset order, with no gap or overlap
  const order = [...tensors.values()].sort((x, y) => x.byteOffset - y.byteOffset || x.byteLength - y.byteLength);
  let end = base;
  for (const t of order) {
    if (t.byteOffset > end) fail(`${t.byteOffset - end} bytes before tensor "${t.name}" belong to no tensor (a gap in data_offsets)`);
    if (t.byteOffset < end) {
      const prev = order.find((o) => o !== t && o.byteOffset < t.byteOffset + t.byteLength && t.byteOffset < o.byteOffset + o.byteLength);
      fail(`tensor "${t.name}" overlaps ${prev ? `tensor "${prev.name}"` : 'another tensor'} (data_offsets)`);
    }
    end = t.byteOffset + t.byteLength;
  }
  if (dataBytes !== undefined && end - base < dataBytes)
    fail(`the data section has ${dataBytes - (end - base)} bytes after the last tensor that belong to no tensor`);
  return { tensors, metadata };
}

/**
 * The first key that appears twice at the top level of a JSON object's text (JSON.parse keeps only
 * the last one silently). The text is valid JSON here: strings and nesting are all it must follow.
 */
function firstDuplicateKey(bytes: Uint8Array): string | undefined {
  const text = new TextDecoder().decode(bytes);
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = c === '{' && depth === 1;
    } else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 1) expectKey = true;
  }
  return undefined;
}

/** What a model reads of its weights: one safetensors file or a sharded set of them. */
export interface TensorReader {
  /** Names the file (or the index of a sharded set) in every error. */
  readonly fileName: string;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  has(name: string): boolean;
  info(name: string): TensorInfo;
  f32(name: string): Float32Array;
  f16Bits(name: string): Uint16Array;
  /** The tensor's raw little-endian bytes (a view, not a copy): I8 and U8 tensors as they are. */
  raw(name: string): Uint8Array;
}

export class SafeTensors implements TensorReader {
  private constructor(
    /** Names the file in every error. */
    readonly fileName: string,
    private readonly bytes: Uint8Array,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Readonly<Record<string, string>>,
  ) {}

  /** Loads from an ArrayBuffer, a Blob/File, a URL (streamed, with progress) or a file path in Node. */
  static async load(source: ModelSource, options: ReadOptions & { name?: string } = {}): Promise<SafeTensors> {
    const { bytes, name } = await readSource(source, options);
    return SafeTensors.fromBytes(bytes, options.name ?? name);
  }

  /** Parses a whole safetensors file held in memory; validates the header against the file size. */
  static fromBytes(data: ArrayBuffer | Uint8Array, fileName = 'model.safetensors'): SafeTensors {
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    if (bytes.byteLength < 8) throw new ModelFormatError(`${fileName}: only ${bytes.byteLength} bytes: not a safetensors file`);
    const n = headerLength(bytes, fileName, bytes.byteLength);
    const { tensors, metadata } = parseHeader(bytes.subarray(8, 8 + n), fileName, bytes.byteLength - 8 - n);
    return new SafeTensors(fileName, bytes, tensors, metadata);
  }

  /** One tensor whose bytes arrived on their own (a streamed file): a reader of just that tensor. */
  static single(fileName: string, info: TensorInfo, bytes: Uint8Array): SafeTensors {
    return new SafeTensors(fileName, bytes, new Map([[info.name, { ...info, byteOffset: 0 }]]), {});
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The tensor's header entry, or a ModelFormatError naming the file and the tensor. */
  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new ModelFormatError(`${this.fileName}: tensor "${name}" is missing`);
    return t;
  }

  /** The tensor's raw little-endian bytes (a view, not a copy). */
  raw(name: string): Uint8Array {
    const t = this.info(name);
    return this.bytes.subarray(t.byteOffset, t.byteOffset + t.byteLength);
  }

  /** The tensor as float32 values, converting F16, BF16, F64 and integer types. */
  f32(name: string): Float32Array {
    const t = this.info(name);
    const r = this.raw(name);
    const n = t.byteLength / DTYPE_BYTES[t.dtype];
    switch (t.dtype) {
      case 'F32':
        return copyTyped(r, Float32Array, n);
      case 'F16':
        return f16ArrayToF32(copyTyped(r, Uint16Array, n));
      case 'BF16':
        return bf16ArrayToF32(copyTyped(r, Uint16Array, n));
      case 'F64':
        return Float32Array.from(copyTyped(r, Float64Array, n));
      default:
        return Float32Array.from(this.ints(name));
    }
  }

  /** The tensor as IEEE half bits: F16 passes through; F32, BF16 and F64 are rounded to nearest. */
  f16Bits(name: string): Uint16Array {
    const t = this.info(name);
    if (t.dtype === 'F16') return copyTyped(this.raw(name), Uint16Array, t.byteLength / 2);
    return f32ArrayToF16(this.f32(name));
  }

  /** An integer tensor as Int32Array (I64/U64 must fit in 32 bits). */
  ints(name: string): Int32Array {
    const t = this.info(name);
    const r = this.raw(name);
    const n = t.byteLength / DTYPE_BYTES[t.dtype];
    const dv = new DataView(r.buffer, r.byteOffset, r.byteLength);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      switch (t.dtype) {
        case 'I32':
          out[i] = dv.getInt32(i * 4, true);
          break;
        case 'U32':
          out[i] = dv.getUint32(i * 4, true);
          break;
        case 'I64':
        case 'U64': {
          const v = dv.getBigInt64(i * 8, true);
          if (v > 2147483647n || v < -2147483648n)
            throw new ModelFormatError(`${this.fileName}: tensor "${name}" value ${v} does not fit in int32`);
          out[i] = Number(v);
          break;
        }
        case 'I16':
          out[i] = dv.getInt16(i * 2, true);
          break;
        case 'U16':
          out[i] = dv.getUint16(i * 2, true);
          break;
        case 'I8':
          out[i] = dv.getInt8(i);
          break;
        case 'U8':
        case 'BOOL':
          out[i] = dv.getUint8(i);
          break;
        default:
          throw new ModelFormatError(`${this.fileName}: tensor "${name}" is ${t.dtype}, not an integer type`);
      }
    }
    return out;
  }
}

type TypedCtor<T> = { new (buffer: ArrayBuffer, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number };

/** Copies bytes into a fresh, aligned typed array (tensor data in a file is not always aligned). */
function copyTyped<T>(bytes: Uint8Array, ctor: TypedCtor<T>, n: number): T {
  const buf = new ArrayBuffer(n * ctor.BYTES_PER_ELEMENT);
  new Uint8Array(buf).set(bytes.subarray(0, n * ctor.BYTES_PER_ELEMENT));
  return new ctor(buf, 0, n);
}

/**
 * Tensors to write: float32 values (stored as F32, or rounded to F16), half bits, int32 ids, int8 or
 * bytes, or any tensor's raw bytes under its dtype (a tensor copied from another file as it is).
 */
export interface TensorToWrite {
  data: Float32Array | Uint16Array | Int32Array | Int8Array | Uint8Array;
  shape: readonly number[];
  /**
   * 'F16' takes Float32Array (rounded) or Uint16Array (half bits); any other dtype takes the data's bytes
   * as they are. Default by the array: F32, F16 (Uint16Array), I32, I8, U8.
   */
  dtype?: SafetensorsDType;
}

/**
 * A safetensors file as its pieces, in order: the 8-byte length and the header, then each tensor's bytes
 * (views of the data, not copies), so a large file can be written piece by piece.
 */
export function safetensorsParts(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array[] {
  const header: Record<string, unknown> = {};
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const d = t.data;
    const dtype: SafetensorsDType =
      t.dtype ??
      (d instanceof Int32Array
        ? 'I32'
        : d instanceof Uint16Array
          ? 'F16'
          : d instanceof Int8Array
            ? 'I8'
            : d instanceof Uint8Array
              ? 'U8'
              : 'F32');
    let bytes: Uint8Array;
    if (dtype === 'F16' && d instanceof Float32Array) {
      const half = f32ArrayToF16(d);
      bytes = new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
    } else {
      bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    }
    const expected = t.shape.reduce((a, n) => a * n, 1) * DTYPE_BYTES[dtype];
    if (bytes.byteLength !== expected)
      throw new ModelFormatError(`writing "${name}": ${bytes.byteLength} bytes of data for ${dtype} [${t.shape.join(', ')}] (${expected})`);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    parts.push(bytes);
    offset += bytes.byteLength;
  }
  if (metadata) header.__metadata__ = metadata;
  const raw = new TextEncoder().encode(JSON.stringify(header));
  // pad the header with spaces so the data starts 8-byte aligned, as the reference writer does
  const head = new Uint8Array(8 + Math.ceil(raw.byteLength / 8) * 8).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(head.byteLength - 8), true);
  head.set(raw, 8);
  return [head, ...parts];
}

/** Serialises tensors as a safetensors file (for tests, benchmarks and tools that make models in memory). */
export function writeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  const parts = safetensorsParts(tensors, metadata);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let p = 0;
  for (const b of parts) {
    out.set(b, p);
    p += b.byteLength;
  }
  return out;
}

/**
 * A checkpoint split into shards (`model.safetensors.index.json` + `model-00001-of-0000N.safetensors`
 * ...): the index's weight_map names each tensor's shard; shards are fetched in parallel.
 */
export class ShardedSafeTensors implements TensorReader {
  private constructor(
    readonly fileName: string,
    private readonly byTensor: ReadonlyMap<string, SafeTensors>,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
  ) {}

  /** Reads the index, then every shard it names through `shard(file)`; errors name the index or the shard. */
  static async load(
    index: ModelSource,
    shard: (file: string) => ModelSource | undefined,
    options: ReadOptions = {},
  ): Promise<ShardedSafeTensors> {
    const { json, name } = await readJson<{ weight_map?: unknown }>(index, options);
    const map = json?.weight_map;
    if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new ModelFormatError(`${name}: no "weight_map" object`);
    const entries = Object.entries(map as Record<string, unknown>);
    for (const [t, f] of entries) if (typeof f !== 'string') throw new ModelFormatError(`${name}: weight_map["${t}"] is not a file name`);
    const files = [...new Set(entries.map(([, f]) => f as string))];
    const shards = await Promise.all(
      files.map((f) => {
        const src = shard(f);
        if (src === undefined) throw new ModelFormatError(`${name}: shard "${f}" is not in the model files`);
        return SafeTensors.load(src, { ...options, name: f });
      }),
    );
    const shardOf = new Map(files.map((f, i) => [f, shards[i]]));
    const byTensor = new Map<string, SafeTensors>();
    const tensors = new Map<string, TensorInfo>();
    for (const [t, f] of entries) {
      const st = shardOf.get(f as string)!;
      if (!st.has(t)) throw new ModelFormatError(`${name}: tensor "${t}" is mapped to ${f}, which does not hold it`);
      byTensor.set(t, st);
      tensors.set(t, st.info(t));
    }
    return new ShardedSafeTensors(name, byTensor, tensors);
  }

  has(name: string): boolean {
    return this.byTensor.has(name);
  }

  info(name: string): TensorInfo {
    const st = this.byTensor.get(name);
    if (!st) throw new ModelFormatError(`${this.fileName}: tensor "${name}" is missing`);
    return st.info(name);
  }

  f32(name: string): Float32Array {
    return this.shard(name).f32(name);
  }

  f16Bits(name: string): Uint16Array {
    return this.shard(name).f16Bits(name);
  }

  raw(name: string): Uint8Array {
    return this.shard(name).raw(name);
  }

  private shard(name: string): SafeTensors {
    this.info(name);
    return this.byTensor.get(name)!;
  }
}

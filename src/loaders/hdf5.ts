// A small HDF5 reader: the subset that Keras' weight files use (h5py's defaults), read from bytes in
// memory, in pages and in Node alike. Superblock v0-v3; object headers v1 and v2 (with continuation
// blocks); groups as symbol tables (v1 B-tree + local heap) or compact link messages; datasets
// compact, contiguous or chunked (v1 B-tree, no filters); attributes of numbers and strings
// (fixed-length and variable-length through the global heap). Dense link/attribute storage (fractal
// heaps, libver='latest' files) and compressed chunks are refused with a ModelFormatError that says so.
import { ModelFormatError } from '../errors.js';

/** A dataset's or attribute's element type, as far as this reader decodes it. */
export type H5Type =
  | { kind: 'int'; size: number; signed: boolean }
  | { kind: 'float'; size: number }
  | { kind: 'string'; size: number }
  | { kind: 'vlen-string' }
  | { kind: 'other'; cls: number; size: number };

export type H5Value = number | string | number[] | string[];

interface Msg {
  type: number;
  off: number;
  size: number;
}

const utf8 = new TextDecoder();

export class Hdf5File {
  private readonly dv: DataView;
  private readonly so: number; // size of offsets
  private readonly sl: number; // size of lengths
  private readonly base: number = 0;
  /** The root group's object header address. */
  readonly root: number;

  constructor(
    readonly bytes: Uint8Array,
    readonly fileName = 'file.h5',
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // the superblock may sit at 0, 512, 1024, 2048, ...
    let sb = -1;
    for (let at = 0; at + 8 <= bytes.byteLength; at = at === 0 ? 512 : at * 2) {
      if (bytes[at] === 0x89 && bytes[at + 1] === 0x48 && bytes[at + 2] === 0x44 && bytes[at + 3] === 0x46) {
        sb = at;
        break;
      }
    }
    if (sb < 0) this.fail('not an HDF5 file (no superblock signature)');
    const version = bytes[sb + 8];
    if (version === 0 || version === 1) {
      this.so = bytes[sb + 13];
      this.sl = bytes[sb + 14];
      let p = sb + 24 + (version === 1 ? 4 : 0);
      this.base = this.uint(p, this.so);
      p += 4 * this.so; // base, free-space, end of file, driver info
      this.root = this.addr(p + this.so); // root symbol table entry: link name offset, object header address
    } else if (version === 2 || version === 3) {
      this.so = bytes[sb + 9];
      this.sl = bytes[sb + 10];
      const p = sb + 12;
      this.base = this.uint(p, this.so);
      this.root = this.addr(p + 3 * this.so);
    } else {
      this.so = this.sl = 8;
      this.base = 0;
      this.root = 0;
      this.fail(`HDF5 superblock version ${version} is not supported (0-3 are)`);
    }
    if (this.so !== 8 && this.so !== 4) this.fail(`HDF5 offsets of ${this.so} bytes are not supported`);
  }

  private fail(msg: string): never {
    throw new ModelFormatError(`${this.fileName}: ${msg}`);
  }

  private uint(p: number, n: number): number {
    if (p < 0 || p + n > this.bytes.byteLength) this.fail(`HDF5 structure points outside the file (offset ${p}); is the file truncated?`);
    switch (n) {
      case 1:
        return this.dv.getUint8(p);
      case 2:
        return this.dv.getUint16(p, true);
      case 4:
        return this.dv.getUint32(p, true);
      case 8: {
        const hi = this.dv.getUint32(p + 4, true);
        const lo = this.dv.getUint32(p, true);
        if (hi === 0xffffffff && lo === 0xffffffff) return -1; // the undefined address
        return hi * 2 ** 32 + lo;
      }
    }
    return this.fail(`HDF5 field of ${n} bytes`);
  }

  private addr(p: number): number {
    const a = this.uint(p, this.so);
    return a < 0 || (this.so === 4 && a === 0xffffffff) ? -1 : a + this.base;
  }

  private sig(p: number, s: string): boolean {
    for (let i = 0; i < 4; i++) if (this.bytes[p + i] !== s.charCodeAt(i)) return false;
    return true;
  }

  private cstr(p: number, end = this.bytes.byteLength): string {
    let e = p;
    while (e < end && this.bytes[e] !== 0) e++;
    return utf8.decode(this.bytes.subarray(p, e));
  }

  // ---- object headers ----

  private readonly headers = new Map<number, Msg[]>();

  /** The messages of the object header at `a` (continuations followed). */
  messages(a: number): Msg[] {
    const hit = this.headers.get(a);
    if (hit) return hit;
    const out: Msg[] = [];
    if (this.sig(a, 'OHDR')) {
      const flags = this.bytes[a + 5];
      let p = a + 6 + (flags & 0x20 ? 16 : 0) + (flags & 0x10 ? 4 : 0);
      const n = 1 << (flags & 3);
      const size0 = this.uint(p, n);
      p += n;
      const blocks: [number, number][] = [[p, p + size0]];
      for (let b = 0; b < blocks.length; b++) {
        let [q, end] = blocks[b];
        const headerLen = 4 + (flags & 0x04 ? 2 : 0);
        while (q + headerLen <= end) {
          const type = this.bytes[q];
          const size = this.uint(q + 1, 2);
          q += headerLen;
          if (type === 0x10) {
            const ca = this.addr(q);
            const cl = this.uint(q + this.so, this.sl);
            if (!this.sig(ca, 'OCHK')) this.fail(`HDF5 continuation block at ${ca} has no OCHK signature`);
            blocks.push([ca + 4, ca + cl - 4]);
          } else out.push({ type, off: q, size });
          q += size;
        }
      }
    } else {
      const version = this.bytes[a];
      if (version !== 1) this.fail(`HDF5 object header version ${version} at ${a} is not supported`);
      const count = this.uint(a + 2, 2);
      const size0 = this.uint(a + 8, 4);
      const blocks: [number, number][] = [[a + 16, a + 16 + size0]];
      let seen = 0;
      for (let b = 0; b < blocks.length && seen < count; b++) {
        let [q, end] = blocks[b];
        while (q + 8 <= end && seen < count) {
          const type = this.uint(q, 2);
          const size = this.uint(q + 2, 2);
          const flags = this.bytes[q + 4];
          q += 8;
          seen++;
          if (flags & 0x02) this.fail(`HDF5 shared message (type ${type}) at ${q} is not supported`);
          if (type === 0x10) blocks.push([this.addr(q), this.addr(q) + this.uint(q + this.so, this.sl)]);
          else out.push({ type, off: q, size });
          q += size;
        }
      }
    }
    this.headers.set(a, out);
    return out;
  }

  // ---- groups ----

  /** A group's members: name -> object header address. */
  children(a: number): Map<string, number> {
    const out = new Map<string, number>();
    for (const m of this.messages(a)) {
      if (m.type === 0x11) {
        const btree = this.addr(m.off);
        const heap = this.addr(m.off + this.so);
        if (!this.sig(heap, 'HEAP')) this.fail(`HDF5 local heap at ${heap} has no HEAP signature`);
        const data = this.addr(heap + 8 + 2 * this.sl);
        this.groupTree(btree, data, out);
      } else if (m.type === 0x06) {
        const link = this.link(m.off);
        if (link) out.set(link[0], link[1]);
      } else if (m.type === 0x02) {
        const p = m.off + 2 + (this.bytes[m.off + 1] & 1 ? 8 : 0);
        if (this.addr(p) >= 0) this.fail('HDF5 dense link storage (a fractal heap; files written with libver="latest") is not supported');
      }
    }
    return out;
  }

  private groupTree(a: number, heapData: number, out: Map<string, number>): void {
    if (this.sig(a, 'SNOD')) {
      const n = this.uint(a + 6, 2);
      for (let i = 0; i < n; i++) {
        const e = a + 8 + i * (2 * this.so + 24);
        out.set(this.cstr(heapData + this.uint(e, this.so)), this.addr(e + this.so));
      }
      return;
    }
    if (!this.sig(a, 'TREE')) this.fail(`HDF5 group B-tree node at ${a} has no TREE signature`);
    const used = this.uint(a + 6, 2);
    let p = a + 8 + 2 * this.so + this.sl; // past siblings and key 0
    for (let i = 0; i < used; i++) {
      this.groupTree(this.addr(p), heapData, out);
      p += this.so + this.sl;
    }
  }

  private link(p: number): [string, number] | undefined {
    const flags = this.bytes[p + 1];
    let q = p + 2;
    let type = 0;
    if (flags & 0x08) type = this.bytes[q++];
    if (flags & 0x04) q += 8;
    if (flags & 0x10) q++;
    const n = 1 << (flags & 3);
    const len = this.uint(q, n);
    q += n;
    const name = utf8.decode(this.bytes.subarray(q, q + len));
    q += len;
    return type === 0 ? [name, this.addr(q)] : undefined; // soft and external links are not followed
  }

  /** The object at a slash-separated path from the root, or undefined. */
  find(path: string): number | undefined {
    let a = this.root;
    for (const part of path.split('/').filter((s) => s !== '')) {
      const next = this.children(a).get(part);
      if (next === undefined) return undefined;
      a = next;
    }
    return a;
  }

  isDataset(a: number): boolean {
    return this.messages(a).some((m) => m.type === 0x08);
  }

  // ---- types, spaces, values ----

  private datatype(p: number): H5Type {
    const cls = this.bytes[p] & 0x0f;
    const bits0 = this.bytes[p + 1];
    const size = this.uint(p + 4, 4);
    if ((cls === 0 || cls === 1) && bits0 & 1) this.fail('big-endian HDF5 numbers are not supported');
    if (cls === 0) return { kind: 'int', size, signed: (bits0 & 0x08) !== 0 };
    if (cls === 1) return { kind: 'float', size };
    if (cls === 3) return { kind: 'string', size };
    if (cls === 9 && (bits0 & 0x0f) === 1) return { kind: 'vlen-string' };
    return { kind: 'other', cls, size };
  }

  private dataspace(p: number): number[] {
    const version = this.bytes[p];
    const rank = this.bytes[p + 1];
    if (version === 2 && this.bytes[p + 3] === 2) return [0]; // null dataspace
    const q = p + (version === 1 ? 8 : 4);
    const dims: number[] = [];
    for (let i = 0; i < rank; i++) dims.push(this.uint(q + i * this.sl, this.sl));
    return dims;
  }

  private decode(t: H5Type, dims: number[], data: Uint8Array, what: string): H5Value {
    const n = dims.reduce((a, b) => a * b, 1);
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const out: (number | string)[] = [];
    for (let i = 0; i < n; i++) {
      if (t.kind === 'float') out.push(t.size === 8 ? dv.getFloat64(i * 8, true) : t.size === 4 ? dv.getFloat32(i * 4, true) : NaN);
      else if (t.kind === 'int') {
        const o = i * t.size;
        if (t.size === 1) out.push(t.signed ? dv.getInt8(o) : dv.getUint8(o));
        else if (t.size === 2) out.push(t.signed ? dv.getInt16(o, true) : dv.getUint16(o, true));
        else if (t.size === 4) out.push(t.signed ? dv.getInt32(o, true) : dv.getUint32(o, true));
        else out.push(Number(t.signed ? dv.getBigInt64(o, true) : dv.getBigUint64(o, true)));
      } else if (t.kind === 'string') out.push(this.cstrIn(data.subarray(i * t.size, (i + 1) * t.size)));
      else if (t.kind === 'vlen-string') {
        const o = i * (4 + this.so + 4);
        const len = dv.getUint32(o, true);
        const bo = data.byteOffset - this.bytes.byteOffset + o + 4;
        out.push(len === 0 ? '' : this.globalHeapObject(this.addr(bo), this.uint(bo + this.so, 4), len));
      } else this.fail(`${what}: HDF5 datatype class ${t.cls} is not supported`);
    }
    return dims.length === 0 ? out[0] : (out as number[] | string[]);
  }

  private cstrIn(b: Uint8Array): string {
    const z = b.indexOf(0);
    return utf8.decode(z < 0 ? b : b.subarray(0, z));
  }

  private globalHeapObject(collection: number, index: number, len: number): string {
    if (!this.sig(collection, 'GCOL')) this.fail(`HDF5 global heap at ${collection} has no GCOL signature`);
    const size = this.uint(collection + 8, this.sl);
    let p = collection + 8 + this.sl;
    while (p + 8 + this.sl <= collection + size) {
      const i = this.uint(p, 2);
      const n = this.uint(p + 8, this.sl);
      if (i === 0) break;
      if (i === index) return utf8.decode(this.bytes.subarray(p + 8 + this.sl, p + 8 + this.sl + Math.min(n, len)));
      p += 8 + this.sl + Math.ceil(n / 8) * 8;
    }
    return this.fail(`HDF5 global heap object ${index} is missing`);
  }

  /** An object's attributes, decoded (numbers, strings, or arrays of them). */
  attrs(a: number): Map<string, H5Value> {
    const out = new Map<string, H5Value>();
    for (const m of this.messages(a)) {
      if (m.type === 0x15) {
        const p = m.off + 2 + (this.bytes[m.off + 1] & 1 ? 2 : 0);
        if (this.addr(p) >= 0) this.fail('HDF5 dense attribute storage (a fractal heap) is not supported');
      }
      if (m.type !== 0x0c) continue;
      const p = m.off;
      const version = this.bytes[p];
      const nameLen = this.uint(p + 2, 2);
      const typeLen = this.uint(p + 4, 2);
      const spaceLen = this.uint(p + 6, 2);
      const pad = (n: number) => (version === 1 ? Math.ceil(n / 8) * 8 : n);
      let q = p + 8 + (version === 3 ? 1 : 0);
      const name = this.cstr(q, q + nameLen);
      q += pad(nameLen);
      const t = this.datatype(q);
      q += pad(typeLen);
      const dims = this.dataspace(q);
      q += pad(spaceLen);
      if (dims[0] === 0 && dims.length === 1) continue;
      const size = t.kind === 'vlen-string' ? 4 + this.so + 4 : t.size;
      const n = dims.reduce((x, y) => x * y, 1);
      out.set(name, this.decode(t, dims, this.bytes.subarray(q, q + n * size), `attribute "${name}"`));
    }
    return out;
  }

  /** A dataset's shape, type and raw little-endian bytes (chunks assembled). */
  dataset(a: number, what: string): { shape: number[]; type: H5Type; data: Uint8Array } {
    let shape: number[] | undefined;
    let type: H5Type | undefined;
    let layout: Msg | undefined;
    for (const m of this.messages(a)) {
      if (m.type === 0x01) shape = this.dataspace(m.off);
      else if (m.type === 0x03) type = this.datatype(m.off);
      else if (m.type === 0x08) layout = m;
      else if (m.type === 0x0b) this.fail(`${what}: compressed or filtered HDF5 datasets are not supported; save without compression`);
    }
    if (!shape || !type || !layout) this.fail(`${what} is not an HDF5 dataset`);
    const esize = type!.kind === 'vlen-string' ? 4 + this.so + 4 : (type as { size: number }).size;
    const n = shape!.reduce((x, y) => x * y, 1);
    const total = n * esize;
    const p = layout!.off;
    const version = this.bytes[p];
    if (version < 3) this.fail(`${what}: HDF5 data layout version ${version} is not supported`);
    const cls = this.bytes[p + 1];
    let data: Uint8Array;
    if (cls === 0) {
      const size = this.uint(p + 2, 2);
      data = this.bytes.subarray(p + 4, p + 4 + size);
    } else if (cls === 1) {
      const at = this.addr(p + 2);
      data = at < 0 ? new Uint8Array(total) : this.bytes.subarray(at, at + total);
    } else if (cls === 2 && version === 3) {
      const rank = this.bytes[p + 2] - 1;
      const tree = this.addr(p + 3);
      const chunk: number[] = [];
      for (let i = 0; i < rank; i++) chunk.push(this.uint(p + 3 + this.so + 4 * i, 4));
      data = new Uint8Array(total);
      if (tree >= 0) this.chunkTree(tree, shape!, chunk, esize, data);
    } else return this.fail(`${what}: HDF5 data layout class ${cls} (version ${version}) is not supported`);
    if (data.byteLength < total) this.fail(`${what}: the dataset's data is cut short (is the file truncated?)`);
    return { shape: shape!, type: type!, data };
  }

  private chunkTree(a: number, shape: number[], chunk: number[], esize: number, out: Uint8Array): void {
    if (!this.sig(a, 'TREE')) this.fail(`HDF5 chunk B-tree node at ${a} has no TREE signature`);
    const level = this.bytes[a + 5];
    const used = this.uint(a + 6, 2);
    const rank = shape.length;
    const keySize = 8 + 8 * (rank + 1);
    let p = a + 8 + 2 * this.so;
    for (let i = 0; i < used; i++) {
      const size = this.uint(p, 4);
      const mask = this.uint(p + 4, 4);
      const start: number[] = [];
      for (let d = 0; d < rank; d++) start.push(this.uint(p + 8 + 8 * d, 8));
      const child = this.addr(p + keySize);
      if (level > 0) this.chunkTree(child, shape, chunk, esize, out);
      else {
        if (mask !== 0 || size !== chunk.reduce((x, y) => x * y, esize)) this.fail('filtered HDF5 chunks are not supported');
        this.copyChunk(this.bytes.subarray(child, child + size), start, shape, chunk, esize, out);
      }
      p += keySize + this.so;
    }
  }

  private copyChunk(src: Uint8Array, start: number[], shape: number[], chunk: number[], esize: number, out: Uint8Array): void {
    const rank = shape.length;
    const idx = new Array<number>(rank).fill(0);
    // rows along the last dimension, clipped at the dataset's edge
    const rowLen = Math.min(chunk[rank - 1], shape[rank - 1] - start[rank - 1]);
    for (;;) {
      let inside = true;
      let so = 0;
      let doff = 0;
      for (let d = 0; d < rank; d++) {
        if (start[d] + idx[d] >= shape[d]) inside = false;
        so = so * chunk[d] + idx[d];
        doff = doff * shape[d] + start[d] + idx[d];
      }
      if (inside) out.set(src.subarray(so * esize, (so + rowLen) * esize), doff * esize);
      let d = rank - 2;
      for (; d >= 0; d--) {
        if (++idx[d] < chunk[d]) break;
        idx[d] = 0;
      }
      if (d < 0) break;
    }
  }

  /** A float dataset as float32 (f16 and f64 converted), with its shape. */
  f32(a: number, what: string): { shape: number[]; data: Float32Array } {
    const { shape, type, data } = this.dataset(a, what);
    if (type.kind !== 'float') this.fail(`${what}: expected a float dataset, got ${type.kind}`);
    const n = shape.reduce((x, y) => x * y, 1);
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const out = new Float32Array(n);
    const size = (type as { size: number }).size;
    if (size === 4) for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
    else if (size === 8) for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
    else if (size === 2) for (let i = 0; i < n; i++) out[i] = half(dv.getUint16(i * 2, true));
    else this.fail(`${what}: float of ${size} bytes`);
    return { shape, data: out };
  }
}

function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

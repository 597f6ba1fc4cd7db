// Shared by the fault tests (issue #13, "Faults"): the tiny fixture model, a token-id codec so a
// tokenizer-less model streams pieces, GPU leak checks, fault injection into a Gpu, and a local HTTP
// server whose routes misbehave on purpose.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { expect } from 'vitest';
import type { TextCodec } from '../../src/generation/generate.js';
import type { GPT2 } from '../../src/models/gpt2.js';
import type { Gpu } from '../../src/runtime/device.js';
import { FIXTURES } from '../helpers/fixtures.js';

/** 2 layers, 4 heads, n_embd 64, 64 positions, 300 tokens: the tiny model every fault test loads. */
export const BASE = `${FIXTURES}gpt2/base/`;
export const BASE_FILES: Record<string, Uint8Array> = {
  'config.json': readFileSync(BASE + 'config.json'),
  'model.safetensors': readFileSync(BASE + 'model.safetensors'),
};
export const DCGAN = `${FIXTURES}gan/dcgan/`;
export const DCGAN_WEIGHTS = readFileSync(DCGAN + 'model.safetensors');

/** Token ids as text ("12 "), so a model without a tokenizer streams one piece per token. */
export const idCodec: TextCodec = {
  eosTokenId: undefined,
  encode: () => [],
  decode: (ids) =>
    Array.from(ids)
      .map((i) => `${i} `)
      .join(''),
  createStreamDecoder: () => ({ push: (id) => `${id} `, flush: () => '' }),
};

export function withIds<T extends GPT2>(lm: T): T {
  lm.tokenizer = idCodec as never;
  return lm;
}

export interface Live {
  liveBuffers: number;
  liveBytes: number;
}

export function live(gpu: Gpu): Live {
  const { liveBuffers, liveBytes } = gpu.memory();
  return { liveBuffers, liveBytes };
}

/** Live buffers and bytes equal `before` (what a leak check compares). */
export function expectLive(gpu: Gpu, before: Live, what: string): void {
  expect(live(gpu), `${what}: live GPU buffers and bytes`).toEqual(before);
}

/** `got` holds exactly the bytes of `want` (a deep toEqual of thousands of floats takes seconds). */
export function expectSameBytes(got: ArrayBufferView, want: ArrayBufferView, what: string): void {
  const bytes = (v: ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  expect(Buffer.compare(bytes(got), bytes(want)), `${what}: not the same ${want.byteLength} bytes`).toBe(0);
}

/** The error a call rejected with (fails the test when it resolved). */
export async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection, but the call resolved');
}

/** Drains a generate()/say() stream; `each` runs after every piece (with the count so far). */
export async function drain<R>(it: AsyncGenerator<unknown, R>, each?: (n: number) => void): Promise<R> {
  let n = 0;
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
    each?.(++n);
  }
}

/**
 * Makes `gpu.createBuffer` throw `error()` once `allowed` more buffers have been made (the device
 * "runs out of memory" there); returns a function that removes the fault. The Gpu's own bookkeeping is
 * untouched, so its live counts stay true.
 */
export function failBuffersAfter(gpu: Gpu, allowed: number, error: () => Error): () => void {
  const g = gpu as Gpu & { createBuffer: Gpu['createBuffer'] };
  const real = Object.getPrototypeOf(g).createBuffer as Gpu['createBuffer'];
  let left = allowed;
  g.createBuffer = function (desc) {
    if (left-- <= 0) throw error();
    return real.call(this, desc);
  };
  return () => void delete (g as { createBuffer?: unknown }).createBuffer;
}

/** A seeded PRNG (mulberry32): uniform in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Route = (req: IncomingMessage, res: ServerResponse, file: string) => void;

/** Serves `files` the well-behaved way: the size, then the bytes in 16 KiB writes (a HEAD gets the headers). */
export function serveFile(files: Record<string, Uint8Array>): Route {
  return (req, res, file) => {
    const body = files[file];
    if (!body) return void res.writeHead(404, 'Not Found').end();
    res.writeHead(200, { 'content-length': body.byteLength });
    if (req.method === 'HEAD') return void res.end();
    for (let i = 0; i < body.byteLength; i += 16384) res.write(body.subarray(i, i + 16384));
    res.end();
  };
}

/**
 * A local HTTP server: GET /<route>/<file> answers with routes[route]. Every socket is tracked, so
 * close() ends stalled connections too.
 */
export async function startServer(routes: Record<string, Route>): Promise<{ url: string; close(): Promise<void>; requests: string[] }> {
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const m = /^\/([^/]+)\/(.+)$/.exec(req.url ?? '');
    const route = m && routes[m[1]];
    if (!route) return void res.writeHead(404, 'Not Found').end();
    route(req, res, decodeURIComponent(m[2]));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return {
    url,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

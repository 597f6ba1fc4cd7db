// Loading by Hugging Face hub id against a local server that serves the hub's paths
// (<host>/<owner>/<name>/resolve/<revision>/<file>), sharded checkpoints (model.safetensors.index.json),
// HTTP errors that name the URL and status, and aborting a load (nothing stays on the GPU).
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchError } from '../../src/errors.js';
import { SafeTensors, writeSafetensors, type TensorToWrite } from '../../src/loaders/safetensors.js';
import { Generator } from '../../src/models/gan/generator.js';
import { GPT2 } from '../../src/models/gpt2.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { useGpu } from '../helpers/gpu.js';

const BASE = `${FIXTURES}gpt2/base/`;
const ODD = `${FIXTURES}gpt2/odd/`;
const IDS = [1, 5, 9, 2, 7];

/** The base fixture's tensors split over two shards, with the index that maps them. */
function shards(): Record<string, Uint8Array> {
  const st = SafeTensors.fromBytes(readFileSync(BASE + 'model.safetensors'));
  const names = st.names();
  const files = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const parts: Record<string, TensorToWrite>[] = [{}, {}];
  const weightMap: Record<string, string> = {};
  names.forEach((n, i) => {
    const k = i < names.length / 2 ? 0 : 1;
    parts[k][n] = { data: st.f32(n), shape: [...st.info(n).shape], dtype: 'F32' };
    weightMap[n] = files[k];
  });
  return {
    'model.safetensors.index.json': new TextEncoder().encode(JSON.stringify({ metadata: {}, weight_map: weightMap })),
    [files[0]]: writeSafetensors(parts[0]),
    [files[1]]: writeSafetensors(parts[1]),
  };
}

describe('hub ids, shards, HTTP errors and abort', () => {
  const gpu = useGpu();
  let server: Server;
  let host: string;
  const requests: string[] = [];
  const repos: Record<string, Record<string, Uint8Array>> = {};

  beforeAll(async () => {
    const config = readFileSync(BASE + 'config.json');
    repos['acme/tiny'] = { 'config.json': config, 'model.safetensors': readFileSync(BASE + 'model.safetensors') };
    repos['acme/sharded'] = { 'config.json': config, ...shards() };
    repos['acme/gan'] = { 'model.safetensors': readFileSync(`${FIXTURES}gan/dcgan/model.safetensors`) };
    repos['acme/odd'] = { 'config.json': readFileSync(ODD + 'config.json'), 'model.safetensors': readFileSync(ODD + 'model.safetensors') };
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(req.url ?? '');
      const body = m && repos[m[1]]?.[decodeURIComponent(m[3])];
      if (!body) return res.writeHead(404, 'Not Found').end();
      res.writeHead(200, { 'content-length': body.byteLength });
      if (req.method === 'HEAD') return res.end();
      // in 16 KiB writes, so the client sees the file arrive piece by piece
      for (let i = 0; i < body.byteLength; i += 16384) res.write(body.subarray(i, i + 16384));
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    host = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('a hub id loads from <host>/<id>/resolve/<revision>/, the same model as the local folder', async () => {
    requests.length = 0;
    const hub = await GPT2.load('acme/tiny', { gpu: gpu(), hubHost: host, revision: 'v1.0' });
    const local = await GPT2.load(BASE, { gpu: gpu() });
    try {
      expect(Array.from(await hub.logits(IDS))).toEqual(Array.from(await local.logits(IDS)));
      expect(requests).toContain('GET /acme/tiny/resolve/v1.0/config.json');
      expect(requests).toContain('GET /acme/tiny/resolve/v1.0/model.safetensors');
      expect(requests.every((r) => r.includes('/acme/tiny/resolve/v1.0/'))).toBe(true);
      expect(hub.tokenizer).toBeUndefined(); // the repo has no tokenizer files: asked (HEAD), not found
    } finally {
      hub.dispose();
      local.dispose();
    }
  });

  it('a sharded checkpoint (index + shards, fetched in parallel) gives the same logits', async () => {
    requests.length = 0;
    const sharded = await GPT2.load('acme/sharded', { gpu: gpu(), hubHost: host });
    const local = await GPT2.load(BASE, { gpu: gpu() });
    try {
      expect(Array.from(await sharded.logits(IDS))).toEqual(Array.from(await local.logits(IDS)));
      expect(requests).toContain('GET /acme/sharded/resolve/main/model-00001-of-00002.safetensors');
      expect(requests).toContain('GET /acme/sharded/resolve/main/model-00002-of-00002.safetensors');
    } finally {
      sharded.dispose();
      local.dispose();
    }
  });

  it('a missing file is a FetchError naming the URL and the HTTP status', async () => {
    const live = gpu().memory().liveBuffers;
    const err = await GPT2.load('acme/missing', { gpu: gpu(), hubHost: host }).catch((e) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect(err.message).toContain(`${host}/acme/missing/resolve/main/config.json`);
    expect(err.message).toMatch(/HTTP 404/);
    expect(gpu().memory().liveBuffers).toBe(live);
  });

  it('aborting a load stops the download and leaves nothing on the GPU', async () => {
    const live = gpu().memory().liveBuffers;
    const ac = new AbortController();
    const reason = new DOMException('stop', 'AbortError');
    const onProgress = (p: { file: string }) => {
      if (p.file.endsWith('.safetensors')) ac.abort(reason);
    };
    await expect(GPT2.load('acme/tiny', { gpu: gpu(), hubHost: host, signal: ac.signal, onProgress })).rejects.toBe(reason);
    // aborted before the upload finished: fromSafetensors frees what it had made
    const st = SafeTensors.fromBytes(readFileSync(BASE + 'model.safetensors'));
    const config = JSON.parse(readFileSync(BASE + 'config.json', 'utf8'));
    const { parseGPT2Config } = await import('../../src/loaders/gpt2_config.js');
    await expect(GPT2.fromSafetensors(st, parseGPT2Config(config), { gpu: gpu(), signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(gpu().memory().liveBuffers).toBe(live);
  });

  it('weights stream into GPU buffers tensor by tensor: never the whole file in memory, the same logits', async () => {
    const streamed = await GPT2.load('acme/odd', { gpu: gpu(), hubHost: host });
    const whole = await GPT2.fromSafetensors(SafeTensors.fromBytes(readFileSync(ODD + 'model.safetensors')), streamed.config, {
      gpu: gpu(),
    });
    try {
      const s = streamed.loadStats!;
      const file = readFileSync(ODD + 'model.safetensors').byteLength;
      console.log(
        `streamed odd/model.safetensors: ${file} bytes, at most ${s.peakBufferedBytes} held (largest tensor ${s.largestTensorBytes})`,
      );
      expect(s.fileBytes).toBe(file);
      expect(s.peakBufferedBytes).toBeLessThan(file / 4);
      expect(s.peakBufferedBytes).toBeLessThanOrEqual(s.largestTensorBytes + 256 * 1024); // + one network chunk
      const ids = [3, 1, 4, 1, 5, 9, 2, 6];
      expect(Array.from(await streamed.logits(ids))).toEqual(Array.from(await whole.logits(ids)));
    } finally {
      streamed.dispose();
      whole.dispose();
    }
  });

  it('one progress stream: every file downloading, the upload, compilation, done; the fraction only grows to 1', async () => {
    const events: { phase: string; file: string; fraction: number }[] = [];
    const lm = await GPT2.load('acme/odd', { gpu: gpu(), hubHost: host, warmup: true, onProgress: (p) => events.push(p) });
    lm.dispose();
    const phases = [...new Set(events.map((e) => e.phase))];
    expect(phases).toEqual(['download', 'upload', 'compile', 'done']);
    const files = new Set(events.filter((e) => e.phase === 'download').map((e) => e.file));
    expect([...files].sort()).toEqual(['config.json', 'model.safetensors']);
    const fractions = events.map((e) => e.fraction);
    expect(fractions.every((f, i) => i === 0 || f >= fractions[i - 1])).toBe(true);
    expect(fractions.at(-1)).toBe(1);
    expect(events.find((e) => e.phase === 'compile')!.fraction).toBeLessThanOrEqual(0.9);
  });

  it('a GAN generator loads by hub id too, and its load aborts', async () => {
    const hub = await Generator.load('acme/gan', { gpu: gpu(), hubHost: host, revision: 'r2' });
    const local = await Generator.load(`${FIXTURES}gan/dcgan/`, { gpu: gpu() });
    try {
      expect(Array.from(await hub.generate({ count: 2, seed: 3 }))).toEqual(Array.from(await local.generate({ count: 2, seed: 3 })));
      expect(requests).toContain('GET /acme/gan/resolve/r2/model.safetensors');
    } finally {
      hub.dispose();
      local.dispose();
    }
    const reason = new DOMException('stop', 'AbortError');
    await expect(Generator.load('acme/gan', { gpu: gpu(), hubHost: host, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });
});

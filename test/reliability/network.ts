// Faults (issue #13): the network. A local node:http server answers 404, 500, cuts the connection
// halfway through the weights (half the bytes, then the socket destroyed), stalls (headers, then
// nothing; half the body, then nothing; no answer at all). Each load rejects with a FetchError naming
// the URL; a stall ends within the load's stallTimeoutMs; the caller's abort cuts through a stall; and
// nothing half-loaded stays on the GPU (live buffers and bytes back to where they were).
import type { Gpu } from '../../src/runtime/device.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ServerResponse } from 'node:http';
import { FetchError } from '../../src/errors.js';
import { DEFAULT_STALL_TIMEOUT_MS } from '../../src/loaders/fetch.js';
import type { LoadProgress } from '../../src/loaders/progress.js';
import { Generator } from '../../src/models/gan/generator.js';
import { GPT2 } from '../../src/models/gpt2.js';
import { BASE_FILES, DCGAN_WEIGHTS, expectLive, live, rejection, serveFile, startServer, type Route } from './helpers.js';

const WEIGHTS = BASE_FILES['model.safetensors'].byteLength;
const STALL_MS = 400;

type Fault = (res: ServerResponse, body: Uint8Array) => void;

/** Serves `files`, except that a GET of `file` meets `fault`. */
function faulty(files: Record<string, Uint8Array>, file: string, fault: Fault): Route {
  const ok = serveFile(files);
  return (req, res, name) => (name === file && req.method === 'GET' ? fault(res, files[file]) : ok(req, res, name));
}

const halfThen =
  (after: (res: ServerResponse) => void): Fault =>
  (res, body) => {
    res.writeHead(200, { 'content-length': body.byteLength });
    const half = body.byteLength >> 1;
    for (let i = 0; i < half; i += 16384) res.write(body.subarray(i, Math.min(i + 16384, half)));
    setTimeout(() => after(res), 50); // once the half has gone out
  };
const cut = halfThen((res) => res.socket?.destroy());
const stallMidway = halfThen(() => undefined);
const stallAfterHeaders: Fault = (res, body) => res.writeHead(200, { 'content-length': body.byteLength }).flushHeaders();
const status500: Fault = (res) => void res.writeHead(500, 'Internal Server Error').end('boom');

/** Registers the tests (inside faults.gpu.test.ts, on its shared Gpu). */
export function networkTests(gpu: () => Gpu): void {
  let server: Awaited<ReturnType<typeof startServer>>;
  const gan = { 'model.safetensors': DCGAN_WEIGHTS };

  beforeAll(async () => {
    server = await startServer({
      ok: serveFile(BASE_FILES),
      missing: serveFile({}),
      error500: faulty(BASE_FILES, 'model.safetensors', status500),
      cut: faulty(BASE_FILES, 'model.safetensors', cut),
      stall: faulty(BASE_FILES, 'model.safetensors', stallAfterHeaders),
      stallMidway: faulty(BASE_FILES, 'model.safetensors', stallMidway),
      silent: () => undefined, // accepts the connection, never answers
      ganMissing: serveFile({}),
      ganCut: faulty(gan, 'model.safetensors', cut),
      ganStall: faulty(gan, 'model.safetensors', stallAfterHeaders),
    });
  });
  afterAll(() => server.close());

  /** Loads `route`, expecting a FetchError naming `file`'s URL; checks nothing stays on the GPU. Returns the error, upload events, ms. */
  async function failedLoad(route: string, file: string, options: { stallTimeoutMs?: number; signal?: AbortSignal } = {}) {
    const before = live(gpu());
    const uploads: LoadProgress[] = [];
    const t0 = performance.now();
    const err = await rejection(
      GPT2.load(`${server.url}/${route}/`, { gpu: gpu(), ...options, onProgress: (p) => p.phase === 'upload' && uploads.push(p) }),
    );
    const ms = performance.now() - t0;
    expectLive(gpu(), before, `after the failed load from /${route}/`);
    if (!options.signal) {
      expect(err).toBeInstanceOf(FetchError);
      expect(err.code).toBe('E_FETCH');
      expect(err.message).toContain(`${server.url}/${route}/${file}`);
    }
    console.log(
      `/${route}/ -> ${err.name} (${err.code ?? '-'}) in ${ms.toFixed(0)} ms after ${uploads.length} tensor uploads: ${err.message}`,
    );
    return { err, uploads: uploads.length, ms };
  }

  it('the well-behaved route loads (the baseline the faults are measured against)', async () => {
    const before = live(gpu());
    const lm = await GPT2.load(`${server.url}/ok/`, { gpu: gpu() });
    expect(lm.config.nLayer).toBe(2);
    expect(live(gpu()).liveBuffers).toBeGreaterThan(before.liveBuffers);
    lm.dispose();
    expectLive(gpu(), before, 'after dispose');
  });

  it('HTTP 404 and 500: a FetchError naming the URL and the status', async () => {
    expect((await failedLoad('missing', 'config.json')).err.message).toMatch(/HTTP 404 Not Found/);
    expect((await failedLoad('error500', 'model.safetensors')).err.message).toMatch(/HTTP 500 Internal Server Error/);
  });

  it('the connection cut halfway through the weights: a FetchError naming the URL and how far it got; the tensors uploaded are freed', async () => {
    const { err, uploads } = await failedLoad('cut', 'model.safetensors');
    expect(err.message).toMatch(new RegExp(`failed after \\d+ of ${WEIGHTS} bytes`));
    expect(err.message).toMatch(/the connection was cut/);
    expect(uploads).toBeGreaterThan(0); // it was half-loaded on the GPU when the connection went
  });

  it('a server that stalls (headers then nothing; half the body then nothing): a FetchError within stallTimeoutMs, nothing left on the GPU', async () => {
    const headers = await failedLoad('stall', 'model.safetensors', { stallTimeoutMs: STALL_MS });
    expect(headers.err.message).toMatch(
      new RegExp(`stalled: nothing arrived for ${STALL_MS} ms after 0 of ${WEIGHTS} bytes \\(stallTimeoutMs\\)`),
    );
    expect(headers.ms).toBeGreaterThanOrEqual(STALL_MS - 5);
    expect(headers.ms).toBeLessThan(STALL_MS + 5000);

    const midway = await failedLoad('stallMidway', 'model.safetensors', { stallTimeoutMs: STALL_MS });
    expect(midway.err.message).toMatch(new RegExp(`stalled: nothing arrived for ${STALL_MS} ms after \\d+ of ${WEIGHTS} bytes`));
    expect(midway.uploads).toBeGreaterThan(0);
    expect(midway.ms).toBeLessThan(STALL_MS + 5000);

    // no answer at all: config.json (and the HEAD requests beside it) time out waiting for the response
    const silent = await failedLoad('silent', 'config.json', { stallTimeoutMs: STALL_MS });
    expect(silent.err.message).toMatch(/stalled: nothing arrived for \d+ ms waiting for the response/);
    expect(silent.ms).toBeLessThan(STALL_MS + 5000);
    expect(DEFAULT_STALL_TIMEOUT_MS).toBe(30_000); // the default, when the load sets none
  });

  it("the caller's abort cuts through a stall (default stallTimeoutMs): it rejects at once with the signal's reason", async () => {
    const reason = new DOMException('the user gave up', 'AbortError');
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(reason), 300);
    const { err, ms } = await failedLoad('stallMidway', 'model.safetensors', { signal: ctl.signal });
    expect(err).toBe(reason);
    expect(ms).toBeLessThan(5000);
  });

  it('Generator.load: 404, a cut connection and a stall are FetchErrors naming the URL; nothing left on the GPU', async () => {
    const cases: [string, RegExp][] = [
      ['ganMissing', /HTTP 404/],
      ['ganCut', /failed after \d+ of \d+ bytes: .*the connection was cut/],
      ['ganStall', /stalled: nothing arrived for \d+ ms after 0 of \d+ bytes/],
    ];
    for (const [route, message] of cases) {
      const before = live(gpu());
      const err = await rejection(Generator.load(`${server.url}/${route}/`, { gpu: gpu(), stallTimeoutMs: STALL_MS }));
      expect(err).toBeInstanceOf(FetchError);
      expect(err.message).toContain(`${server.url}/${route}/model.safetensors`);
      expect(err.message).toMatch(message);
      expectLive(gpu(), before, `after Generator.load from /${route}/`);
      console.log(`Generator /${route}/ -> ${err.name} (${err.code}): ${err.message}`);
    }
  });
}

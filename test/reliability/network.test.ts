// Faults (issue #13), the network side alone (no GPU): the readers under every load, against a local
// server that answers 404, cuts the connection halfway, stalls after the headers or never answers.
// Whole-file reads (config.json, a GAN's weights) and streamed reads (GPT-2's weights) fail with a
// FetchError naming the URL; a stall ends after stallTimeoutMs of silence, never during a slow but
// steady download; an abort cuts through a stall.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchError } from '../../src/errors.js';
import { DEFAULT_STALL_TIMEOUT_MS, folderHas, openSource, readSource } from '../../src/loaders/fetch.js';
import { rejection, serveFile, startServer } from './helpers.js';

const FILE = new Uint8Array(200_000).map((_, i) => i % 251);

describe('URL reads under network faults', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    server = await startServer({
      ok: serveFile({ 'f.bin': FILE }),
      missing: serveFile({}),
      cut: (_req, res) => {
        res.writeHead(200, { 'content-length': FILE.byteLength });
        res.write(FILE.subarray(0, FILE.byteLength / 2));
        setTimeout(() => res.socket?.destroy(), 50);
      },
      stall: (_req, res) => void res.writeHead(200, { 'content-length': FILE.byteLength }).flushHeaders(),
      silent: () => undefined,
      // 16 pieces 100 ms apart: slower in all than the stall timeout, never silent for nearly as long
      slow: (_req, res) => {
        res.writeHead(200, { 'content-length': FILE.byteLength });
        const piece = FILE.byteLength / 16;
        let i = 0;
        const next = () => {
          res.write(FILE.subarray(i * piece, (i + 1) * piece));
          if (++i < 16) setTimeout(next, 100);
          else res.end();
        };
        next();
      },
    });
  });
  afterAll(() => server.close());

  /** Reads a whole file, then streams it: both must fail the same way. */
  async function bothFail(route: string, options: { stallTimeoutMs?: number; signal?: AbortSignal } = {}): Promise<unknown[]> {
    const url = `${server.url}/${route}/f.bin`;
    const whole = await rejection(readSource(url, options));
    const streamed = await rejection(
      (async () => {
        for await (const _ of (await openSource(url, options)).chunks);
      })(),
    );
    return [whole, streamed];
  }

  it('404: a FetchError naming the URL and the status', async () => {
    for (const e of await bothFail('missing')) {
      expect(e).toBeInstanceOf(FetchError);
      expect((e as Error).message).toBe(`fetching ${server.url}/missing/f.bin failed: HTTP 404 Not Found`);
    }
  });

  it('a connection cut halfway: a FetchError naming the URL and the bytes received', async () => {
    for (const e of await bothFail('cut')) {
      expect(e).toBeInstanceOf(FetchError);
      expect((e as Error).message).toMatch(
        new RegExp(`^fetching ${server.url}/cut/f.bin failed after 100000 of 200000 bytes: .+ \\(the connection was cut: try again\\)$`),
      );
    }
  });

  it('a stall (headers then nothing, or no answer): a FetchError after stallTimeoutMs of silence', async () => {
    for (const route of ['stall', 'silent']) {
      const t0 = performance.now();
      for (const e of await bothFail(route, { stallTimeoutMs: 300 })) {
        expect(e).toBeInstanceOf(FetchError);
        expect((e as Error).message).toContain(`fetching ${server.url}/${route}/f.bin stalled: nothing arrived for 300 ms`);
      }
      expect(performance.now() - t0).toBeLessThan(2 * 300 + 4000);
    }
    // folderHas' HEAD request stalls the same way (a silent server is not "no such file")
    const head = await rejection(folderHas(`${server.url}/silent/`, 'f.bin', { stallTimeoutMs: 300 }));
    expect(head).toBeInstanceOf(FetchError);
    expect(DEFAULT_STALL_TIMEOUT_MS).toBe(30_000);
  });

  it('a slow but steady download is not a stall: the timeout counts silence only', async () => {
    const t0 = performance.now();
    const { bytes } = await readSource(`${server.url}/slow/f.bin`, { stallTimeoutMs: 1000 });
    expect(performance.now() - t0).toBeGreaterThan(1000); // longer in all than the timeout
    expect(Buffer.compare(bytes, FILE)).toBe(0); // (not toEqual: a deep compare of 200 000 bytes takes seconds)
  });

  it("an abort during a stall (default timeout) rejects at once with the signal's reason", async () => {
    const reason = new DOMException('stop', 'AbortError');
    const t0 = performance.now();
    const [whole, streamed] = await bothFail('stall', { signal: AbortSignal.timeout(200) });
    expect((whole as Error).name).toBe('TimeoutError');
    expect((streamed as Error).name).toBe('TimeoutError');
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(reason), 100);
    expect(await rejection(readSource(`${server.url}/stall/f.bin`, { signal: ctl.signal }))).toBe(reason);
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});

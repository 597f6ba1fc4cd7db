// Faults (issue #13): aborts at random points. 100 seeded points during a load over HTTP (after the
// k-th progress event: config, the weights' bytes, each tensor's upload, compilation; or after a random
// delay) and 100 during generation (after the k-th piece, after a delay, before the call, while queued
// behind another; plain, two sequences, conversation turns). Every aborted call rejects with the
// signal's AbortError; no GPU buffer or byte outlives it; the loaded model still generates what it
// generated before.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Gpu } from '../../src/runtime/device.js';
import type { LoadProgress } from '../../src/loaders/progress.js';
import { GPT2 } from '../../src/models/gpt2.js';
import { BASE, BASE_FILES, drain, expectLive, live, rejection, rng, serveFile, startServer, withIds } from './helpers.js';

const POINTS = 100;

function abortReason(i: number): DOMException {
  return new DOMException(`aborted at point ${i}`, 'AbortError');
}

function expectAbort(e: unknown, reason: DOMException, what: string): void {
  expect(e, what).toBe(reason);
  expect((e as Error).name).toBe('AbortError');
}

/** Registers the tests (inside faults.gpu.test.ts, on its shared Gpu). */
export function abortTests(gpu: () => Gpu): void {
  let server: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    server = await startServer({ ok: serveFile(BASE_FILES) });
  });
  afterAll(() => server.close());

  it(`${POINTS} seeded points during a load (progress events, delays): each rejects with the AbortError, nothing stays on the GPU`, async () => {
    const g = gpu();
    const folder = `${server.url}/ok/`;
    const baseline = live(g);
    const GEN = { maxNewTokens: 4, stopAtEos: false };
    // clean loads: the progress events of each phase (the abort points) and the time a load takes
    const counts = { download: 0, upload: 0, compile: 1 };
    let ms = 0;
    let expected: number[] = [];
    for (const warmup of [false, false, true]) {
      const seen = { download: 0, upload: 0, compile: 0 };
      const t0 = performance.now();
      const lm = await GPT2.load(folder, { gpu: g, warmup, onProgress: (p) => p.phase !== 'done' && seen[p.phase]++ });
      ms = performance.now() - t0; // (the first load over HTTP sets up the client: the last one counts)
      counts.download = seen.download; // (varies: how the bytes arrive in chunks)
      counts.upload = seen.upload;
      expect(seen.compile).toBe(warmup ? 1 : 0);
      expected = (await lm.complete([1, 2, 3], GEN)).sequences[0].ids;
      lm.dispose();
    }
    expectLive(g, baseline, 'after the clean loads');

    const r = rng(13);
    const phases: Record<string, number> = {};
    let aborted = 0;
    let completed = 0;
    for (let i = 0; i < POINTS; i++) {
      const warmup = r() < 0.25;
      const ctl = new AbortController();
      const reason = abortReason(i);
      const byEvent = r() < 0.7;
      // the event that aborts: the bytes arriving (the first event past a fraction f of the download:
      // how the bytes arrive in chunks varies from load to load), the k-th tensor uploaded, or
      // compilation when the load warms up
      const x = r();
      const phase = x < 0.35 ? 'download' : x < 0.7 || !warmup ? 'upload' : 'compile';
      const k = 1 + Math.floor(r() * counts[phase]);
      const f = r() * 0.99;
      const delay = r() * ms;
      const seen = { download: 0, upload: 0, compile: 0, done: 0 };
      let fired = false;
      const onProgress = (p: LoadProgress) => {
        if (!byEvent || fired || p.phase !== phase) return;
        ++seen[p.phase];
        if (phase === 'download' ? p.fraction >= f : seen[p.phase] === k) {
          fired = true;
          ctl.abort(reason);
        }
      };
      const timer = byEvent ? undefined : setTimeout(() => ctl.abort(reason), delay);
      const what = () => {
        const at =
          phase === 'download' ? `download event ${seen.download} (past ${(f * 100).toFixed(0)}% of the bytes)` : `${phase} event ${k}`;
        return `point ${i} (${byEvent ? at : `after ${delay.toFixed(0)} ms`}${warmup ? ', warm-up' : ''})`;
      };
      const outcome = await GPT2.load(folder, { gpu: g, warmup, signal: ctl.signal, onProgress }).then(
        (lm) => ({ lm }),
        (err: unknown) => ({ err }),
      );
      clearTimeout(timer);
      if ('lm' in outcome) {
        // only a delay can come after the load's end; the model then works as any
        const lm = outcome.lm;
        try {
          expect(byEvent, `${what()} should have aborted the load`).toBe(false);
          if (completed++ === 0) expect((await lm.complete([1, 2, 3], GEN)).sequences[0].ids).toEqual(expected);
        } finally {
          lm.dispose();
        }
      } else {
        expectAbort(outcome.err, reason, what());
        aborted++;
        if (byEvent) phases[phase] = (phases[phase] ?? 0) + 1;
      }
      expectLive(g, baseline, `after load ${what()}`);
    }
    console.log(
      `load aborts: ${aborted} of ${POINTS} points aborted (${completed} delays came after the load's end); ` +
        `aborted at an event of each phase: ${JSON.stringify(phases)} (events of a clean load: ${JSON.stringify(counts)}, ${ms.toFixed(0)} ms); ` +
        `live after: ${JSON.stringify(live(g))} (baseline ${JSON.stringify(baseline)})`,
    );
    expect(aborted).toBeGreaterThanOrEqual(POINTS * 0.6);
    expect(Object.keys(phases).sort()).toEqual(['compile', 'download', 'upload']);
  });

  it(`${POINTS} seeded points during generation (pieces, delays, before, queued; 1 or 2 sequences; conversation turns): AbortError, no leak, the model still works`, async () => {
    const g = gpu();
    const baseline = live(g);
    const lm = withIds(await GPT2.load(BASE, { gpu: g }));
    const prompts = [[1, 2, 3], [7, 8, 9, 10, 11], [42]];
    const sampled = { temperature: 0.9, topK: 20, seed: 4 };
    const opts = (p: number, maxNewTokens: number, batch: number) => ({
      maxNewTokens,
      stopAtEos: false,
      numReturnSequences: batch,
      ...(p === 1 ? sampled : {}),
    });
    // what each prompt gives, uninterrupted (and the buffers a warm model holds: every prompt, 1 and 2 sequences)
    const expected = new Map<string, number[][]>();
    for (let p = 0; p < prompts.length; p++)
      for (const batch of [1, 2]) {
        const res = await lm.complete(prompts[p], opts(p, 6, batch));
        expected.set(
          `${p}/${batch}`,
          res.sequences.map((s) => s.ids),
        );
      }
    const reference = lm.conversation({ preamble: [5, 6] });
    const turn1 = (await reference.reply([20, 21], { maxNewTokens: 3, stopAtEos: false })).sequences[0].ids;
    const turn2 = (await reference.reply([30], { maxNewTokens: 4, stopAtEos: false })).sequences[0].ids;
    reference.dispose();
    const warm = live(g);

    const r = rng(29);
    const counts: Record<string, number> = {};
    let aborted = 0;
    for (let i = 0; i < POINTS; i++) {
      const reason = abortReason(i);
      const ctl = new AbortController();
      const x = r();
      const how = x < 0.55 ? 'piece' : x < 0.8 ? 'delay' : x < 0.9 ? 'before' : 'queued';
      const kind = r() < 0.2 ? 'conversation' : r() < 0.25 ? 'batch2' : 'generate';
      const p = Math.floor(r() * prompts.length);
      const max = 2 + Math.floor(r() * 5); // 2..6 new tokens
      const k = 1 + Math.floor(r() * (max - 1)); // abort after piece k: 1..max-1
      const delay = r() * 30;
      counts[`${kind}/${how}`] = (counts[`${kind}/${how}`] ?? 0) + 1;
      if (how === 'before') ctl.abort(reason);
      const timer = how === 'delay' ? setTimeout(() => ctl.abort(reason), delay) : undefined;
      const onPiece = (n: number) => how === 'piece' && n === k && ctl.abort(reason);
      let blocker: Promise<unknown> | undefined;
      // 'queued': another generation runs first; ours is aborted while it waits its turn
      const queueBehind = () => how === 'queued' && (blocker = lm.complete(prompts[0], opts(0, 6, 1)));
      let chat: ReturnType<typeof lm.conversation> | undefined;
      let call: Promise<{ sequences: { ids: number[] }[] }>;
      if (kind === 'conversation') {
        chat = lm.conversation({ preamble: [5, 6] });
        expect((await chat.reply([20, 21], { maxNewTokens: 3, stopAtEos: false })).sequences[0].ids).toEqual(turn1);
        const tokens = chat.tokens;
        queueBehind();
        call = drain(chat.say([30], { maxNewTokens: max, stopAtEos: false, signal: ctl.signal }), onPiece);
        if (how === 'queued') setTimeout(() => ctl.abort(reason), 0);
        const outcome = await call.then(
          (res) => ({ res }),
          (err) => ({ err }),
        );
        if ('err' in outcome) {
          expectAbort(outcome.err, reason, `point ${i}: conversation, ${how}`);
          aborted++;
          expect(chat.tokens, `point ${i}: an aborted turn leaves the conversation as it was`).toEqual(tokens);
          expect((await chat.reply([30], { maxNewTokens: 4, stopAtEos: false })).sequences[0].ids).toEqual(turn2);
        } else {
          expect(how, `point ${i}: only a delay may come after the end`).toBe('delay');
          const ids = outcome.res.sequences[0].ids;
          const m = Math.min(ids.length, turn2.length); // greedy: the reference turn's tokens, as far as both go
          expect(ids.slice(0, m)).toEqual(turn2.slice(0, m));
        }
        chat.dispose();
      } else {
        const batch = kind === 'batch2' ? 2 : 1;
        queueBehind();
        call = drain(lm.generate(prompts[p], { ...opts(p, max, batch), signal: ctl.signal }), onPiece);
        if (how === 'queued') setTimeout(() => ctl.abort(reason), 0);
        const outcome = await call.then(
          (res) => ({ res }),
          (err) => ({ err }),
        );
        if ('err' in outcome) {
          expectAbort(outcome.err, reason, `point ${i}: ${kind}, ${how} (k ${k}, ${delay.toFixed(0)} ms)`);
          aborted++;
        } else {
          expect(how, `point ${i}: only a delay may come after the end`).toBe('delay');
          const want = expected.get(`${p}/${batch}`)!.map((ids) => ids.slice(0, max));
          expect(outcome.res.sequences.map((s) => s.ids)).toEqual(want);
        }
      }
      clearTimeout(timer);
      await blocker;
      expectLive(g, warm, `after generation point ${i} (${kind}, ${how})`);
      if (i % 25 === 24) {
        // the model still generates exactly what it did before any abort
        for (let q = 0; q < prompts.length; q++)
          expect((await lm.complete(prompts[q], opts(q, 6, 1))).sequences.map((s) => s.ids)).toEqual(expected.get(`${q}/1`));
      }
    }
    console.log(
      `generation aborts: ${aborted} of ${POINTS} points aborted; by kind/how: ${JSON.stringify(counts)}; ` +
        `live buffers/bytes: warm ${JSON.stringify(warm)}, after the ${POINTS} points ${JSON.stringify(live(g))}`,
    );
    expect(aborted).toBeGreaterThanOrEqual(POINTS * 0.75);
    lm.dispose();
    expectLive(g, baseline, 'after dispose');
  });
}

// The project's default GPT-2 (pretrained/gpt2-kjv, tools/train_gpt2.py): its tokenizer reproduces the
// trainer's ids, its logits and greedy continuation match PyTorch (float64 on the stored F16 weights).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GPT2 } from '../../src/models/gpt2.js';
import { assertClose, maxAbs } from '../helpers/assert.js';
import { loadSafetensors } from '../helpers/fixtures.js';
import { useGpu } from '../helpers/gpu.js';

const DIR = new URL('../../pretrained/gpt2-kjv/', import.meta.url).pathname;

describe('default model pretrained/gpt2-kjv', () => {
  const gpu = useGpu();

  it("tokenizer reproduces the Python trainer's encoder and round-trips", async () => {
    const lm = await GPT2.load(DIR, { gpu: gpu() });
    try {
      const checks: { text: string; ids: number[] }[] = JSON.parse(readFileSync(DIR + 'tokenizer-check.json', 'utf8'));
      for (const c of checks) {
        expect(lm.tokenizer!.encode(c.text, { allowSpecial: true }), c.text).toEqual(c.ids);
        expect(lm.tokenizer!.decode(c.ids)).toBe(c.text);
      }
      expect(lm.tokenizer!.eosTokenId).toBe(lm.config.eosTokenId);
    } finally {
      lm.dispose();
    }
  });

  for (const dtype of ['f16', 'f32'] as const) {
    it(`logits and greedy continuation match PyTorch (${dtype})`, async () => {
      const ref = loadSafetensors(DIR + 'reference.safetensors');
      const lm = await GPT2.load(DIR, { gpu: gpu(), dtype });
      try {
        const ids = Array.from(ref.ints('prompt_ids'));
        const want = ref.f32('logits');
        // F16 weights upcast exactly to f32 or kept as f16: the same numbers either way
        assertClose(await lm.logits(ids), want, { atol: 1e-4 * maxAbs(want), rtol: 0, what: `default model logits ${dtype}` });
        const cont = Array.from(ref.ints('greedy_continuation'));
        const r = await lm.complete(ids, { maxNewTokens: cont.length, stopAtEos: false });
        expect(r.sequences[0].ids).toEqual(cont);
      } finally {
        lm.dispose();
      }
    });
  }

  it('generates text from a text prompt, deterministic under a seed', async () => {
    const lm = await GPT2.load(DIR, { gpu: gpu(), dtype: 'f16' });
    try {
      const opts = { maxNewTokens: 30, temperature: 0.8, topK: 40, topP: 0.95, repetitionPenalty: 1.1, seed: 7 };
      let streamed = '';
      for await (const p of lm.generate('And God said', opts)) streamed += p.text;
      const again = await lm.complete('And God said', opts);
      expect(again.sequences[0].text).toBe(streamed);
      expect(streamed.length).toBeGreaterThan(20);
      expect(lm.tokenizer!.decode(again.sequences[0].ids)).toBe(streamed);
    } finally {
      lm.dispose();
    }
  });
});

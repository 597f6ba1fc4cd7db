// Conversations on the GPU with the default model (pretrained/gpt2-kjv, its real tokenizer): each turn
// runs only its new tokens, and each reply equals, token for token, greedy generation over the whole
// history from scratch (model.complete on the conversation's ids); the conversation's cache is its own
// (generate() between turns does not disturb it); sliding past the context; memory freed on dispose.
import { describe, expect, it } from 'vitest';
import { ContextLengthError } from '../../src/errors.js';
import { GPT2 } from '../../src/models/gpt2.js';
import { useGpu } from '../helpers/gpu.js';

const DIR = new URL('../../pretrained/gpt2-kjv/', import.meta.url).pathname;
const GREEDY = { maxNewTokens: 16, stopAtEos: false, greedy: true } as const;

describe('conversation on the GPU', () => {
  const gpu = useGpu();

  it("three turns: each prefill covers only the turn's new tokens, each reply equals greedy generation from scratch", async () => {
    const lm = await GPT2.load(DIR, { gpu: gpu() });
    const tok = lm.tokenizer!;
    try {
      const chat = lm.conversation({ preamble: 'In the beginning God created the heaven and the earth.' });
      const turns = ['\nAnd God said,', ' Let there be light:', '\nAnd the evening and the morning were'];
      let before = [...chat.tokens];
      const counts: number[] = [];
      for (const [i, text] of turns.entries()) {
        const r = await chat.reply(text, GREEDY);
        const newIds = tok.encode(text);
        const scratch = await lm.complete([...before, ...newIds], GREEDY);
        expect(r.sequences[0].ids, `turn ${i + 1}`).toEqual(scratch.sequences[0].ids);
        expect(r.sequences[0].text).toBe(scratch.sequences[0].text);
        // turn 1: the preamble and its text; then the text and the last reply token (sampled, never fed)
        expect(r.prefillTokens).toBe(i === 0 ? before.length + newIds.length : newIds.length + 1);
        counts.push(r.prefillTokens);
        expect(chat.tokens).toEqual([...before, ...newIds, ...r.sequences[0].ids]);
        expect(r.contextUsed).toBe(chat.tokens.length);
        before = [...chat.tokens];
      }
      console.log(`conversation prefill tokens per turn: ${counts.join(', ')} (context used ${chat.contextUsed} of ${chat.contextLength})`);
      chat.dispose();
    } finally {
      lm.dispose();
    }
  });

  it('keeps its own cache: generate() between turns and a second conversation do not disturb it; sampled turns equal sampling from scratch', async () => {
    const lm = await GPT2.load(DIR, { gpu: gpu() });
    const tok = lm.tokenizer!;
    try {
      const o = { maxNewTokens: 12, stopAtEos: false, temperature: 0.8, topK: 40, seed: 5, repetitionPenalty: 1.2 };
      const a = lm.conversation();
      const b = lm.conversation();
      await a.reply('And Moses said', o);
      const ah = [...a.tokens];
      await lm.complete('Blessed are the meek', { maxNewTokens: 30 }); // generate()'s own cache
      await b.reply('The LORD is my shepherd', o); // the other conversation's cache
      const bh = [...b.tokens];
      // turns of both, queued together, each as from scratch
      const [ra, rb] = await Promise.all([a.reply(' unto the people,', o), b.reply('; I shall not want.', o)]);
      const sa = await lm.complete([...ah, ...tok.encode(' unto the people,')], o);
      expect(ra.sequences[0].ids).toEqual(sa.sequences[0].ids);
      const sb = await lm.complete([...bh, ...tok.encode('; I shall not want.')], o);
      expect(rb.sequences[0].ids).toEqual(sb.sequences[0].ids);
      expect(ra.prefillTokens).toBe(tok.encode(' unto the people,').length + 1);
      expect(rb.prefillTokens).toBe(tok.encode('; I shall not want.').length + 1);
      a.dispose();
      b.dispose();
    } finally {
      lm.dispose();
    }
  });

  it('slides past the context: the oldest turns go, the rest runs once, the reply equals generation from scratch', async () => {
    const lm = await GPT2.load(DIR, { gpu: gpu() });
    try {
      const chat = lm.conversation({ preamble: 'Psalms.' });
      const o = { maxNewTokens: 40, stopAtEos: false, greedy: true } as const;
      let slid = 0;
      for (let i = 0; i < 10 && slid < 2; i++) {
        const r = await chat.reply(`\nVerse ${i + 1}: Praise ye the LORD, for he is good;`, o);
        expect(chat.contextUsed).toBeLessThanOrEqual(chat.contextLength);
        if (r.droppedTurns > 0) {
          slid++;
          const kept = chat.tokens.slice(0, chat.tokens.length - r.sequences[0].ids.length);
          const scratch = await lm.complete(kept, o);
          expect(r.sequences[0].ids).toEqual(scratch.sequences[0].ids);
          expect(r.prefillTokens).toBe(kept.length - lm.tokenizer!.encode('Psalms.').length); // all but the preamble, once
        }
      }
      expect(slid).toBe(2);
      const strict = lm.conversation({ onFull: 'error' });
      await expect(strict.reply('word '.repeat(200), { maxNewTokens: 100 })).rejects.toThrow(ContextLengthError);
      strict.dispose();
      chat.dispose();
    } finally {
      lm.dispose();
    }
  });

  it("dispose() frees the conversation's cache and buffers", async () => {
    const g = gpu();
    const lm = await GPT2.load(DIR, { gpu: g });
    try {
      await lm.complete('And', { maxNewTokens: 2 });
      const before = { bytes: lm.memoryBytes(), live: g.memory().liveBuffers };
      const chat = lm.conversation();
      await chat.reply('And God said', { maxNewTokens: 4 });
      const { nLayer, nPositions, nEmbd } = lm.config;
      expect(lm.memoryBytes() - before.bytes).toBeGreaterThanOrEqual(2 * nLayer * nPositions * nEmbd * 4); // its KV cache
      chat.dispose();
      await g.device.queue.onSubmittedWorkDone();
      expect({ bytes: lm.memoryBytes(), live: g.memory().liveBuffers }).toEqual(before);
    } finally {
      lm.dispose();
    }
  });
});

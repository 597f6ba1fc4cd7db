// The conversation's bookkeeping against a fake model with a KV cache (test/helpers/fake.ts): each turn
// runs only what the cache lacks, the cache always holds what the conversation says it does (the fake
// checks every row), and each reply equals generation over the whole history from scratch.
import { describe, expect, it } from 'vitest';
import { ContextLengthError, DisposedError, OptionError } from '../../src/errors.js';
import { Conversation, type ConversationOptions, type TurnOptions } from '../../src/generation/conversation.js';
import { generateAll, type GenerateOptions, type GenerationPiece } from '../../src/generation/generate.js';
import { byteCodec, CachedFakeStepper } from '../helpers/fake.js';

const EOS = 256;
const codec = byteCodec(EOS);
const bytes = (s: string) => Array.from(new TextEncoder().encode(s));

/** A runner without a queue (the model's queue is tested with the GPU model). */
const direct = <R>(_o: TurnOptions, body: () => AsyncGenerator<GenerationPiece, R>) => body();

function chat(options: ConversationOptions = {}, context = 512) {
  const stepper = new CachedFakeStepper(257, context);
  return { stepper, conv: new Conversation(stepper, () => codec, direct, options) };
}

/** Greedy (or seeded) generation over the whole history, from an empty cache. */
async function fromScratch(history: readonly number[], options: GenerateOptions, context = 512) {
  return generateAll(new CachedFakeStepper(257, context), codec, history, options);
}

describe('conversation', () => {
  it("runs only each turn's new tokens and replies as generation over the full history does", async () => {
    const { stepper, conv } = chat({ preamble: 'A dialogue.\n' });
    const o = { maxNewTokens: 12, stopAtEos: false };
    const turns = ['Q: who?\nA:', '\nQ: and then?\nA:', '\nQ: why?\nA:'];
    let before = conv.tokens;
    for (const [i, text] of turns.entries()) {
      const r = await conv.reply(text, o);
      const want = await fromScratch([...before, ...bytes(text)], o);
      expect(r.sequences[0].ids).toEqual(want.sequences[0].ids);
      expect(r.sequences[0].text).toBe(want.sequences[0].text);
      // turn 1 runs the preamble and its text; later turns their text and the previous reply's last token
      const expected = i === 0 ? bytes('A dialogue.\n').length + bytes(text).length : bytes(text).length + 1;
      expect(r.prefillTokens).toBe(expected);
      expect(stepper.prefills[i].length).toBe(expected);
      expect(conv.tokens).toEqual([...before, ...bytes(text), ...r.sequences[0].ids]);
      expect(r.contextUsed).toBe(conv.tokens.length);
      expect(conv.cachedTokens).toBe(conv.tokens.length - 1);
      before = conv.tokens;
    }
    expect(conv.turnCount).toBe(3);
  });

  it('sampled turns with a seed equal sampling over the full history', async () => {
    const { conv } = chat();
    const o = { maxNewTokens: 10, temperature: 0.9, topK: 40, seed: 1234, repetitionPenalty: 1.3, stopAtEos: false };
    await conv.reply('first', o);
    const before = conv.tokens;
    const r = await conv.reply(' second', o);
    const want = await fromScratch([...before, ...bytes(' second')], o);
    expect(r.sequences[0].ids).toEqual(want.sequences[0].ids);
  });

  it('an end-of-text reply leaves nothing unfed; the token itself is not kept', async () => {
    // find a prompt whose greedy reply ends at EOS within 200 tokens, by trying short prompts
    for (let k = 0; k < 200; k++) {
      const { conv } = chat();
      const r = await conv.reply(`p${k}`, { maxNewTokens: 200, greedy: true });
      if (r.sequences[0].finishReason !== 'eos') continue;
      expect(conv.tokens).not.toContain(EOS);
      expect(conv.cachedTokens).toBe(conv.tokens.length);
      const r2 = await conv.reply('x', { maxNewTokens: 3 });
      expect(r2.prefillTokens).toBe(1);
      return;
    }
    throw new Error('no prompt ended at EOS (the fake model changed?)');
  });

  it('a stop string is cut from the reply and from the history; cache rows that differ run again', async () => {
    const { stepper, conv } = chat();
    const free = await fromScratch(bytes('hello'), { maxNewTokens: 20, stopAtEos: false });
    const text = free.sequences[0].text;
    const stop = text.slice(5, 7); // two characters from the middle of the free reply
    const r = await conv.reply('hello', { maxNewTokens: 20, stop, stopAtEos: false });
    expect(r.sequences[0].finishReason).toBe('stop');
    expect(r.sequences[0].text).toBe(text.slice(0, text.indexOf(stop)));
    expect(conv.tokens).toEqual([...bytes('hello'), ...bytes(r.sequences[0].text)]);
    const before = conv.tokens;
    const cached = conv.cachedTokens;
    // the kept tokens are cached up to where they differ from the generated ones (bytes of invalid
    // UTF-8 come back as U+FFFD); the rows from there on run again next turn
    const kept = bytes(r.sequences[0].text);
    let same = 0;
    while (same < kept.length && kept[same] === free.sequences[0].ids[same]) same++;
    expect(cached).toBe(5 + same);
    const r2 = await conv.reply('!', { maxNewTokens: 4, stopAtEos: false }); // the fake checks each cached row
    expect(r2.prefillTokens).toBe(before.length - cached + 1);
    expect(stepper.prefills[1]).toEqual([...before.slice(cached), ...bytes('!')]);
    const want = await fromScratch([...before, ...bytes('!')], { maxNewTokens: 4, stopAtEos: false });
    expect(r2.sequences[0].ids).toEqual(want.sequences[0].ids);
  });

  it('slides: drops the oldest turns, keeps the preamble, runs what is left once, and replies as from scratch', async () => {
    const context = 64;
    const { stepper, conv } = chat({ preamble: 'P:' }, context);
    const o = { maxNewTokens: 8, stopAtEos: false };
    const lengths: number[] = [];
    let slid = 0;
    for (let i = 0; i < 8; i++) {
      const before = conv.tokens;
      const text = ` turn ${i}.`;
      const r = await conv.reply(text, o);
      lengths.push(conv.contextUsed);
      expect(conv.contextUsed + 0).toBeLessThanOrEqual(context);
      expect(conv.tokens.slice(0, 2)).toEqual(bytes('P:'));
      if (r.droppedTurns > 0) {
        slid++;
        // the kept history: the preamble, then whole turns from some turn on
        const kept = conv.tokens.slice(0, conv.tokens.length - r.sequences[0].ids.length);
        expect(before.slice(before.length - (kept.length - 2 - bytes(text).length))).toEqual(
          kept.slice(2, kept.length - bytes(text).length),
        );
        expect(r.prefillTokens).toBe(kept.length - 2); // everything after the preamble, once
        const want = await fromScratch(kept, o, context);
        expect(r.sequences[0].ids).toEqual(want.sequences[0].ids);
      } else {
        const want = await fromScratch([...before, ...bytes(text)], o, context);
        expect(r.sequences[0].ids).toEqual(want.sequences[0].ids);
      }
    }
    expect(slid).toBeGreaterThan(0);
    expect(stepper.prefills.length).toBe(8);
  });

  it("onFull 'error' throws a ContextLengthError and leaves the conversation as it was", async () => {
    const { conv } = chat({ onFull: 'error' }, 40);
    await conv.reply('0123456789', { maxNewTokens: 10 });
    const before = conv.tokens;
    await expect(conv.reply('0123456789', { maxNewTokens: 15 })).rejects.toThrow(ContextLengthError);
    expect(conv.tokens).toEqual(before);
    await expect(conv.reply('ok', { maxNewTokens: 4 })).resolves.toBeTruthy();
  });

  it('a turn too long for the context even alone is refused, the conversation unchanged', async () => {
    const { conv } = chat({}, 40);
    await conv.reply('abc', { maxNewTokens: 5 });
    const before = conv.tokens;
    const cached = conv.cachedTokens;
    await expect(conv.reply('x'.repeat(30), { maxNewTokens: 20 })).rejects.toThrow(/even with every earlier turn dropped/);
    expect(conv.tokens).toEqual(before);
    expect(conv.cachedTokens).toBe(cached);
  });

  it('an aborted turn leaves the conversation as it was; the next turn replies as from scratch', async () => {
    const { conv } = chat();
    await conv.reply('one', { maxNewTokens: 6, stopAtEos: false });
    const before = conv.tokens;
    const ctl = new AbortController();
    const it = conv.say(' two', { maxNewTokens: 30, stopAtEos: false, signal: ctl.signal });
    await it.next();
    await it.next();
    ctl.abort(new DOMException('stop', 'AbortError'));
    await expect(it.next()).rejects.toThrow('stop');
    expect(conv.tokens).toEqual(before);
    const r = await conv.reply(' three', { maxNewTokens: 6, stopAtEos: false });
    const want = await fromScratch([...before, ...bytes(' three')], { maxNewTokens: 6, stopAtEos: false });
    expect(r.sequences[0].ids).toEqual(want.sequences[0].ids);
  });

  it('reset() keeps the preamble; options and disposal are checked', async () => {
    const { stepper, conv } = chat({ preamble: [1, 2, 3] });
    await conv.reply('hi', { maxNewTokens: 3 });
    conv.reset();
    expect(conv.tokens).toEqual([1, 2, 3]);
    const r = await conv.reply('yo', { maxNewTokens: 3 });
    expect(r.prefillTokens).toBe(2); // the preamble's rows are still cached
    await expect(conv.reply('x', { numReturnSequences: 2 })).rejects.toThrow(OptionError);
    await expect(conv.reply('', {})).rejects.toThrow(OptionError);
    expect(() => new Conversation(stepper, () => codec, direct, { onFull: 'wrap' as never })).toThrow(OptionError);
    expect(() => new Conversation(stepper, () => codec, direct, { preamble: [999] })).toThrow(/outside the vocabulary/);
    conv.dispose();
    expect(stepper.disposed).toBe(true);
    await expect(conv.reply('x')).rejects.toThrow(DisposedError);
  });
});

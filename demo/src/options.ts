// The generation options, as controls: max new tokens, greedy or sampling (temperature, top-k, top-p),
// repetition penalty and seed. Each tab has its own set (ids prefixed by the tab).
import type { GPT2GenerateOptions } from 'webgen';
import { h, labelled, numberInput } from './dom.js';

export interface OptionControls {
  element: HTMLElement;
  /** The options as generate() takes them; throws a message naming the bad field. */
  read(): GPT2GenerateOptions;
}

export function optionControls(prefix: string, defaults: { maxNewTokens: number; mode?: 'greedy' | 'sample' }): OptionControls {
  const max = numberInput(`${prefix}-max`, defaults.maxNewTokens, { min: 1, max: 1024 });
  const mode = h(
    'select',
    { id: `${prefix}-mode` },
    h('option', { value: 'sample', text: 'sample' }),
    h('option', { value: 'greedy', text: 'greedy' }),
  );
  mode.value = defaults.mode ?? 'sample';
  const temperature = numberInput(`${prefix}-temperature`, 0.8, { min: 0, step: 0.05 });
  const topK = numberInput(`${prefix}-topk`, 40, { min: 0 });
  const topP = numberInput(`${prefix}-topp`, 0.95, { min: 0.01, max: 1, step: 0.01 });
  const penalty = numberInput(`${prefix}-penalty`, 1.1, { min: 0.01, step: 0.05 });
  const seed = numberInput(`${prefix}-seed`, 7, { min: 0 });
  const randomSeed = h('input', { id: `${prefix}-random-seed`, type: 'checkbox' });
  const sampling = [temperature, topK, topP, seed, randomSeed];
  const sync = () => sampling.forEach((c) => (c.disabled = mode.value === 'greedy'));
  mode.addEventListener('change', sync);
  randomSeed.addEventListener('change', () => (seed.disabled = randomSeed.checked || mode.value === 'greedy'));
  sync();
  const element = h(
    'fieldset',
    { class: 'options' },
    h('legend', { text: 'Options' }),
    labelled('Max new tokens', max),
    labelled('Decoding', mode),
    labelled('Temperature', temperature, 'Divides the logits before sampling; 0 is greedy'),
    labelled('Top-k', topK, 'Keep the k most likely tokens (0: off)'),
    labelled('Top-p', topP, 'Keep the most likely tokens up to this probability mass (1: off)'),
    labelled('Repetition penalty', penalty, 'Scores of tokens already in the text are divided by this (1: off)'),
    labelled('Seed', seed),
    labelled('Random seed', randomSeed),
  );
  const num = (el: HTMLInputElement, name: string, ok: (x: number) => boolean, what: string) => {
    const v = Number(el.value);
    if (el.value.trim() === '' || !Number.isFinite(v) || !ok(v)) throw new Error(`${name} must be ${what} (got "${el.value}")`);
    return v;
  };
  return {
    element,
    read() {
      const o: GPT2GenerateOptions = {
        maxNewTokens: num(max, 'Max new tokens', (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1'),
        repetitionPenalty: num(penalty, 'Repetition penalty', (x) => x > 0, 'a number > 0'),
      };
      if (mode.value === 'greedy') return { ...o, greedy: true };
      return {
        ...o,
        temperature: num(temperature, 'Temperature', (x) => x >= 0, 'a number >= 0'),
        topK: num(topK, 'Top-k', (x) => Number.isInteger(x) && x >= 0, 'an integer >= 0'),
        topP: num(topP, 'Top-p', (x) => x > 0 && x <= 1, 'in (0, 1]'),
        seed: randomSeed.checked
          ? Math.floor(Math.random() * 2 ** 31)
          : num(seed, 'Seed', (x) => Number.isInteger(x) && x >= 0, 'an integer >= 0'),
      };
    },
  };
}

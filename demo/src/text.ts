// The Text tab: a prompt, the options, and the continuation as it streams from the worker, with the
// time to first token, tokens per second, the adapter and the model's memory.
import type { App } from './app.js';
import { errorText, h, labelled } from './dom.js';
import type { Tab } from './main.js';
import { modelPanel } from './model.js';
import { optionControls } from './options.js';

export function mountText(panel: HTMLElement, app: App): Tab {
  const top = h('div');
  const prompt = h('textarea', { id: 'text-prompt', rows: 3 });
  prompt.value = 'And God said,';
  const options = optionControls('text', { maxNewTokens: 60 });
  const generate = h('button', { id: 'text-generate', type: 'button', class: 'primary', text: 'Generate', disabled: true });
  const stop = h('button', { id: 'text-stop', type: 'button', text: 'Stop', disabled: true });
  const shownPrompt = h('span', { class: 'prompt' });
  const continuation = h('span', { id: 'text-continuation' });
  const output = h(
    'div',
    { id: 'text-output', class: 'output', 'aria-live': 'polite', 'aria-label': 'Generated text' },
    shownPrompt,
    continuation,
  );
  const stats = h('p', { id: 'text-stats', class: 'stats', 'aria-live': 'polite' });
  const error = h('p', { id: 'text-error', class: 'error', role: 'alert' });
  panel.append(
    top,
    h('div', { class: 'field' }, labelled('Prompt', prompt)),
    options.element,
    h('div', { class: 'row' }, generate, stop, h('span', { class: 'stats', text: 'Ctrl+Enter generates' })),
    output,
    stats,
    error,
  );

  app.gpt2.watch((m) => (generate.disabled = !m || running !== undefined));
  let running: AbortController | undefined;

  const run = async () => {
    const m = app.gpt2.value;
    if (!m || running) return;
    error.textContent = '';
    let o;
    try {
      o = options.read();
    } catch (e) {
      error.textContent = errorText(e);
      return;
    }
    const ctl = (running = new AbortController());
    generate.disabled = true;
    stop.disabled = false;
    shownPrompt.textContent = prompt.value;
    continuation.textContent = '';
    stats.textContent = 'Generating…';
    panel.dataset.state = 'running';
    const t0 = performance.now();
    let first = 0;
    let pieces = 0;
    try {
      const it = m.lm.generate(prompt.value, { ...o, signal: ctl.signal });
      for (;;) {
        const r = await it.next();
        if (r.done) {
          const s = r.value.sequences[0];
          const wall = (performance.now() - t0) / 1000;
          const rate = r.value.msPerToken > 0 ? 1000 / r.value.msPerToken : NaN;
          stats.textContent =
            `${s.ids.length} tokens · time to first token ${Math.round(first)} ms · ${rate.toFixed(1)} tokens/s decoding ` +
            `(${(s.ids.length / wall).toFixed(1)} tokens/s overall) · finished by ${s.finishReason}`;
          stats.dataset.ttftMs = String(first);
          stats.dataset.tokensPerSecond = String(rate);
          stats.dataset.tokens = String(s.ids.length);
          panel.dataset.state = 'done';
          break;
        }
        if (pieces++ === 0) first = performance.now() - t0;
        continuation.append(r.value.text);
        panel.dataset.pieces = String(pieces);
      }
    } catch (e) {
      if (ctl.signal.aborted) {
        stats.textContent = `Stopped after ${pieces} pieces.`;
        panel.dataset.state = 'stopped';
      } else {
        error.textContent = errorText(e);
        panel.dataset.state = 'error';
      }
    } finally {
      running = undefined;
      generate.disabled = !app.gpt2.value;
      stop.disabled = true;
      dispatchEvent(new Event('webgen:generated'));
    }
  };
  generate.addEventListener('click', run);
  stop.addEventListener('click', () => running?.abort(new DOMException('stopped by the user', 'AbortError')));
  prompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void run();
    }
  });

  return {
    shown() {
      const box = modelPanel(app);
      top.append(box.element);
      box.ensureDefault();
    },
  };
}

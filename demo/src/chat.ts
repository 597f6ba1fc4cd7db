// The Chat tab: a dialogue with the GPT-2 that keeps its KV cache in the worker between turns (each
// turn runs only its new tokens through the model). Shows the turns, what each prefilled, and how much
// of the context is used; past the context the oldest turns are dropped (the conversation's 'slide').
import type { ConversationState, TurnResult, WorkerConversation } from 'webgen';
import type { App, LoadedGPT2 } from './app.js';
import { errorText, h, labelled } from './dom.js';
import type { Tab } from './main.js';
import { modelPanel } from './model.js';
import { optionControls } from './options.js';

export function mountChat(panel: HTMLElement, app: App): Tab {
  const top = h('div');
  const preamble = h('textarea', { id: 'chat-preamble', rows: 2 });
  preamble.value = 'The people came unto the prophet, and asked him, and he answered them.';
  const template = h('input', { id: 'chat-template', type: 'text', size: 30, value: '\\nQ: {text}\\nA:' });
  const stopAt = h('input', { id: 'chat-stop-at', type: 'text', size: 6, value: '\\n' });
  const options = optionControls('chat', { maxNewTokens: 40 });
  const log = h('ol', { id: 'chat-log', class: 'chat-log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation' });
  const input = h('textarea', { id: 'chat-input', rows: 2, placeholder: 'Who made the light?' });
  const send = h('button', { id: 'chat-send', type: 'button', class: 'primary', text: 'Send', disabled: true });
  const stop = h('button', { id: 'chat-stop', type: 'button', text: 'Stop', disabled: true });
  const reset = h('button', { id: 'chat-reset', type: 'button', text: 'New conversation' });
  const meter = h('meter', { id: 'chat-context', min: 0, max: 1, value: 0, 'aria-label': 'Context used' });
  const meterText = h('span', { id: 'chat-context-text', class: 'stats', text: 'context: empty' });
  const error = h('p', { id: 'chat-error', class: 'error', role: 'alert' });
  panel.append(
    top,
    h(
      'details',
      {},
      h('summary', { text: 'Conversation format' }),
      h('div', { class: 'row' }, labelled('Preamble (kept when old turns are dropped)', preamble)),
      h('div', { class: 'row' }, labelled('Your turn is sent as', template), labelled('The reply stops at', stopAt)),
    ),
    options.element,
    log,
    h('div', { class: 'field' }, labelled('Your message', input)),
    h('div', { class: 'row' }, send, stop, reset, h('span', { class: 'stats', text: 'Enter sends, Shift+Enter is a new line' })),
    h('div', { class: 'row' }, meter, meterText),
    error,
  );

  let chat: { model: LoadedGPT2; conversation: WorkerConversation } | undefined;
  let running: AbortController | undefined;
  const unescape = (s: string) => s.replace(/\\n/g, '\n').replace(/\\t/g, '\t');

  const showContext = (s: ConversationState | TurnResult | undefined) => {
    if (!s) return;
    meter.max = s.contextLength;
    meter.value = s.contextUsed;
    meterText.textContent = `context: ${s.contextUsed} of ${s.contextLength} tokens`;
    panel.dataset.contextUsed = String(s.contextUsed);
  };
  const conversation = (): WorkerConversation | undefined => {
    const m = app.gpt2.value;
    if (!m) return undefined;
    if (chat?.model !== m) {
      void chat?.conversation.dispose().catch(() => undefined);
      chat = { model: m, conversation: m.lm.conversation({ preamble: preamble.value }) };
    }
    return chat.conversation;
  };
  const clear = () => {
    void chat?.conversation.dispose().catch(() => undefined);
    chat = undefined;
    log.replaceChildren();
    meter.value = 0;
    meterText.textContent = 'context: empty';
    panel.dataset.turns = '0';
  };
  app.gpt2.watch((m) => {
    send.disabled = !m || running !== undefined;
    if (chat && chat.model !== m) clear();
  });
  preamble.addEventListener('change', clear);
  reset.addEventListener('click', clear);

  const turn = async () => {
    const text = input.value.trim();
    const c = conversation();
    if (!c || !text || running) return;
    error.textContent = '';
    let o;
    try {
      o = options.read();
    } catch (e) {
      error.textContent = errorText(e);
      return;
    }
    const ctl = (running = new AbortController());
    send.disabled = true;
    stop.disabled = false;
    input.value = '';
    const reply = h('span', { class: 'reply-text' });
    const meta = h('span', { class: 'stats' });
    const item = h(
      'li',
      { class: 'turn' },
      h('p', { class: 'user' }, h('strong', { text: 'You: ' }), text),
      h('p', { class: 'bot' }, h('strong', { text: 'Model: ' }), reply),
      meta,
    );
    log.append(item);
    item.scrollIntoView({ block: 'nearest' });
    panel.dataset.state = 'running';
    try {
      const it = c.say(unescape(template.value).replace('{text}', text), {
        ...o,
        stop: unescape(stopAt.value) || undefined,
        signal: ctl.signal,
      });
      for (;;) {
        const r = await it.next();
        if (r.done) {
          const t = r.value;
          const rate = t.msPerToken > 0 ? `${(1000 / t.msPerToken).toFixed(1)} tokens/s` : '';
          meta.textContent =
            `prefilled ${t.prefillTokens} new tokens in ${Math.round(t.prefillMs)} ms · ${t.sequences[0].ids.length} generated ${rate}` +
            (t.droppedTurns ? ` · the ${t.droppedTurns} oldest turn(s) dropped to fit the context` : '');
          item.dataset.prefill = String(t.prefillTokens);
          item.dataset.generated = String(t.sequences[0].ids.length);
          item.dataset.dropped = String(t.droppedTurns);
          if (t.droppedTurns) {
            const turns = log.querySelectorAll('li.turn:not(.dropped)');
            for (let i = 0; i < t.droppedTurns && i < turns.length - 1; i++) turns[i].classList.add('dropped');
          }
          showContext(t);
          panel.dataset.state = 'done';
          break;
        }
        reply.append(r.value.text);
      }
    } catch (e) {
      if (ctl.signal.aborted) {
        meta.textContent = 'stopped: this turn is not kept in the conversation';
        item.classList.add('dropped');
        panel.dataset.state = 'stopped';
      } else {
        error.textContent = errorText(e);
        item.classList.add('dropped');
        panel.dataset.state = 'error';
      }
      showContext(c.state);
    } finally {
      running = undefined;
      send.disabled = !app.gpt2.value;
      stop.disabled = true;
      panel.dataset.turns = String(log.querySelectorAll('li.turn:not(.dropped)').length);
      dispatchEvent(new Event('webgen:generated'));
    }
  };
  send.addEventListener('click', turn);
  stop.addEventListener('click', () => running?.abort(new DOMException('stopped by the user', 'AbortError')));
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      void turn();
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

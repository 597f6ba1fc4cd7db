// The GPT-2 the Text and Chat tabs share: the embedded default loads first, with a progress bar;
// another loads from a URL, a hub id or local files (picker or drag and drop), in f32 or f16.
import type { LoadProgress, WeightDType } from 'webgen';
import { DEFAULT_GPT2, type App, type LoadedGPT2 } from './app.js';
import { errorText, formatBytes, h, labelled } from './dom.js';

const DTYPES: { value: WeightDType; label: string }[] = [
  { value: 'f16', label: 'f16 (half the memory)' },
  { value: 'f32', label: 'f32' },
  { value: 'q8', label: 'q8 (int8, a quarter of f32)' },
];

/** Loads a GPT-2 in the worker, replacing the current one once the new one is ready. */
export async function loadGPT2(
  app: App,
  source: string | Record<string, File>,
  name: string,
  o: { dtype: WeightDType; revision?: string; hubHost?: string; signal?: AbortSignal; onProgress?: (p: LoadProgress) => void },
): Promise<LoadedGPT2> {
  const lm = await app.engine.loadGPT2(source, {
    dtype: o.dtype,
    revision: o.revision,
    hubHost: o.hubHost,
    warmup: true,
    onProgress: o.onProgress,
    signal: o.signal,
  });
  const previous = app.gpt2.value;
  const loaded = { lm, name, dtype: o.dtype };
  app.gpt2.set(loaded);
  await previous?.lm.dispose();
  return loaded;
}

/** The model box: what is loaded, its memory, the progress of a load, and the other sources. */
export interface ModelPanel {
  /** The box; the Text and Chat tabs each show it at their top (it moves to the tab shown). */
  element: HTMLElement;
  /** Loads the default model unless a model is loaded or loading. */
  ensureDefault(): void;
}

const panels = new WeakMap<App, ModelPanel>();

/** The app's one model box, made on first use. */
export function modelPanel(app: App): ModelPanel {
  let p = panels.get(app);
  if (!p) panels.set(app, (p = createModelPanel(app)));
  return p;
}

function createModelPanel(app: App): ModelPanel {
  const status = h('p', { id: 'model-status', class: 'status', 'aria-live': 'polite', text: 'No model loaded yet.' });
  const bar = h('progress', { id: 'model-progress', max: 1, value: 0, 'aria-label': 'Model loading progress' });
  const barText = h('span', { id: 'model-progress-text', class: 'stats' });
  const progressRow = h('div', { class: 'row', hidden: true }, bar, barText);
  const error = h('p', { id: 'model-error', class: 'error', role: 'alert' });

  const dtype = h('select', { id: 'model-dtype' }, ...DTYPES.map((d) => h('option', { value: d.value, text: d.label })));
  const kind = h(
    'select',
    { id: 'model-source' },
    h('option', { value: 'default', text: 'the embedded default (GPT-2 trained on the King James Bible)' }),
    h('option', { value: 'url', text: 'a URL (a folder with config.json, model.safetensors, tokenizer files)' }),
    h('option', { value: 'hub', text: 'a Hugging Face hub id' }),
    h('option', { value: 'files', text: 'local files' }),
  );
  const url = h('input', { id: 'model-url', type: 'url', placeholder: 'https://example.org/models/gpt2/', size: 48 });
  const hub = h('input', { id: 'model-hub', type: 'text', placeholder: 'openai-community/gpt2', size: 28 });
  const revision = h('input', { id: 'model-revision', type: 'text', value: 'main', size: 10 });
  const hubHost = h('input', { id: 'model-hub-host', type: 'url', value: 'https://huggingface.co', size: 28 });
  const files = h('input', { id: 'model-files', type: 'file', multiple: true, accept: '.json,.safetensors,.txt' });
  const drop = h(
    'div',
    { id: 'model-drop', class: 'dropzone', tabindex: 0 },
    'Drop config.json, model.safetensors and the tokenizer files here',
  );
  const load = h('button', { id: 'model-load', type: 'button', class: 'primary', text: 'Load' });
  const cancel = h('button', { id: 'model-cancel', type: 'button', text: 'Cancel', disabled: true });
  const rows = {
    url: h('div', { class: 'row', hidden: true }, labelled('URL', url)),
    hub: h('div', { class: 'row', hidden: true }, labelled('Hub id', hub), labelled('Revision', revision), labelled('Hub host', hubHost)),
    files: h('div', { hidden: true }, h('div', { class: 'row' }, labelled('Files', files)), drop),
  };
  const details = h(
    'details',
    { id: 'model-other' },
    h('summary', { text: 'Load another GPT-2' }),
    h('div', { class: 'row' }, labelled('Source', kind), labelled('Weights', dtype)),
    rows.url,
    rows.hub,
    rows.files,
    h('div', { class: 'row' }, load, cancel),
    h('p', { class: 'stats', text: 'Files from a URL or the hub are cached by the browser (Cache API) for the next visit.' }),
  );
  const element = h('fieldset', { id: 'model-box' }, h('legend', { text: 'Model' }), status, progressRow, error, details);

  let dropped: Record<string, File> = {};
  const showKind = () => {
    rows.url.hidden = kind.value !== 'url';
    rows.hub.hidden = kind.value !== 'hub';
    rows.files.hidden = kind.value !== 'files';
  };
  kind.addEventListener('change', showKind);
  const takeFiles = (list: FileList | null) => {
    if (!list) return;
    for (const f of Array.from(list)) dropped[f.name] = f;
    drop.textContent = `${Object.keys(dropped).sort().join(', ')}: drop more, or Load`;
  };
  files.addEventListener('change', () => takeFiles(files.files));
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    takeFiles(e.dataTransfer?.files ?? null);
  });
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') files.click();
  });

  const describe = async (m: LoadedGPT2) => {
    const c = m.lm.config;
    const memory = await m.lm.memoryBytes().catch(() => NaN);
    status.textContent =
      `Model: ${m.name} · ${m.dtype} weights · ${c.nLayer} layers, ${c.nEmbd} wide, ${c.nHead} heads, ` +
      `context ${c.nPositions}, vocabulary ${c.vocabSize} · GPU memory ${formatBytes(memory)}`;
    status.dataset.memory = String(memory);
  };
  app.gpt2.watch((m) => m && describe(m));
  // generations grow the caches: refresh the memory figure after each
  addEventListener('webgen:generated', () => app.gpt2.value && describe(app.gpt2.value));

  let busy: AbortController | undefined;
  const run = async (source: string | Record<string, File>, name: string, extra: { revision?: string; hubHost?: string } = {}) => {
    busy?.abort();
    const ctl = (busy = new AbortController());
    error.textContent = '';
    progressRow.hidden = false;
    bar.value = 0;
    load.disabled = true;
    cancel.disabled = false;
    document.body.dataset.gpt2 = 'loading';
    try {
      await loadGPT2(app, source, name, {
        dtype: dtype.value as WeightDType,
        ...extra,
        signal: ctl.signal,
        onProgress: (p) => {
          bar.value = p.fraction;
          const of = p.total ? ` of ${formatBytes(p.total)}` : '';
          barText.textContent = p.phase === 'compile' ? 'compiling the kernels' : `${p.phase} ${p.file}: ${formatBytes(p.loaded)}${of}`;
        },
      });
      document.body.dataset.gpt2 = 'ready';
      progressRow.hidden = true;
    } catch (e) {
      if (!ctl.signal.aborted) error.textContent = `Could not load ${name}: ${errorText(e)}`;
      document.body.dataset.gpt2 = app.gpt2.value ? 'ready' : 'error';
      progressRow.hidden = true;
    } finally {
      if (busy === ctl) busy = undefined;
      load.disabled = false;
      cancel.disabled = true;
    }
  };
  cancel.addEventListener('click', () => {
    busy?.abort();
    error.textContent = 'Loading cancelled.';
  });
  load.addEventListener('click', () => {
    switch (kind.value) {
      case 'default':
        return run(DEFAULT_GPT2, 'default (gpt2-kjv)');
      case 'url':
        if (!url.value) return void (error.textContent = 'Enter the URL of a model folder.');
        return run(url.value.endsWith('/') ? url.value : url.value + '/', url.value);
      case 'hub':
        if (!hub.value.trim()) return void (error.textContent = 'Enter a hub id such as openai-community/gpt2.');
        return run(hub.value.trim(), hub.value.trim(), { revision: revision.value || 'main', hubHost: hubHost.value || undefined });
      case 'files':
        if (!Object.keys(dropped).length) return void (error.textContent = 'Choose or drop the model files first.');
        return run({ ...dropped }, 'local files').then(() => (dropped = {}));
    }
  });

  let started = false;
  return {
    element,
    ensureDefault() {
      if (started || app.gpt2.value) return;
      started = true;
      void run(DEFAULT_GPT2, 'default (gpt2-kjv)');
    },
  };
}

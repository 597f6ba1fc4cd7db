// The demo page: a tab per use of the engine. Text and Chat share one GPT-2, Images a GAN generator;
// all three live in one worker engine. Benchmarks run the kernel and model benchmarks in the page.
import { createApp, type App } from './app.js';
import { h } from './dom.js';
import { mountBench } from './bench.js';
import { mountChat } from './chat.js';
import { mountImages } from './images.js';
import { mountText } from './text.js';

export interface Tab {
  /** Called each time the tab is shown (the first time: start loading what it needs). */
  shown?(): void;
}

const TABS: { id: string; label: string; mount: (panel: HTMLElement, app: App) => Tab }[] = [
  { id: 'text', label: 'Text', mount: mountText },
  { id: 'chat', label: 'Chat', mount: mountChat },
  { id: 'images', label: 'Images', mount: mountImages },
  { id: 'bench', label: 'Benchmarks', mount: mountBench },
];

/** Why this browser has no usable WebGPU, or undefined when it has. */
async function findAdapter(): Promise<GPUAdapter | string> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    return window.isSecureContext
      ? 'This browser has no WebGPU (navigator.gpu is missing).'
      : 'WebGPU is only available to secure pages: open this page over https or from localhost.';
  }
  const adapter = await navigator.gpu.requestAdapter().catch(() => null);
  return adapter ?? 'This browser has WebGPU, but it found no GPU adapter (it may be disabled, or blocked for this GPU).';
}

function adapterLine(adapter: GPUAdapter): string {
  const i = adapter.info;
  const name = [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' ') || 'unnamed adapter';
  return `WebGPU adapter: ${name}${adapter.features.has('shader-f16') ? ' · shader-f16' : ''}${i.isFallbackAdapter ? ' · software' : ''}`;
}

function mountTabs(app: App): void {
  const list = document.getElementById('tabs')!;
  const panels = document.getElementById('panels')!;
  const tabs: { button: HTMLButtonElement; panel: HTMLElement; tab: Tab }[] = [];
  const select = (i: number, focus = false) => {
    tabs.forEach((t, j) => {
      t.button.setAttribute('aria-selected', String(i === j));
      t.button.tabIndex = i === j ? 0 : -1;
      t.panel.hidden = i !== j;
    });
    if (focus) tabs[i].button.focus();
    history.replaceState(null, '', `#${TABS[i].id}`);
    tabs[i].tab.shown?.();
  };
  TABS.forEach((t, i) => {
    const button = h('button', { role: 'tab', id: `tab-${t.id}`, 'aria-controls': `panel-${t.id}`, type: 'button', text: t.label });
    const panel = h('section', { role: 'tabpanel', id: `panel-${t.id}`, 'aria-labelledby': `tab-${t.id}`, hidden: true });
    button.addEventListener('click', () => select(i));
    button.addEventListener('keydown', (e) => {
      const k = e.key;
      const to = k === 'ArrowRight' ? i + 1 : k === 'ArrowLeft' ? i - 1 : k === 'Home' ? 0 : k === 'End' ? TABS.length - 1 : -1;
      if (to === -1) return;
      e.preventDefault();
      select((to + TABS.length) % TABS.length, true);
    });
    list.append(button);
    panels.append(panel);
    tabs.push({ button, panel, tab: { shown: undefined } });
  });
  TABS.forEach((t, i) => (tabs[i].tab = t.mount(tabs[i].panel, app)));
  const start = Math.max(
    0,
    TABS.findIndex((t) => `#${t.id}` === location.hash),
  );
  select(start);
}

async function main(): Promise<void> {
  const found = await findAdapter();
  if (typeof found === 'string') {
    document.getElementById('adapter')!.textContent = 'No WebGPU.';
    document.getElementById('no-webgpu-reason')!.textContent = found;
    document.getElementById('no-webgpu')!.hidden = false;
    document.body.dataset.webgpu = 'none';
    return;
  }
  document.getElementById('adapter')!.textContent = adapterLine(found);
  document.getElementById('app')!.hidden = false;
  document.body.dataset.webgpu = 'yes';
  mountTabs(createApp(found));
}

main().catch((e) => {
  document.getElementById('adapter')!.textContent = `The page failed to start: ${e instanceof Error ? e.message : String(e)}`;
});

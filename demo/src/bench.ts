// The Benchmarks tab: bench/'s kernel and model suites, run in a worker of this page, as charts and
// tables. This module only holds the tab's place: its controls, Chart.js and the worker's code load
// the first time the tab is shown, so the page's first load stays light.
import type { App } from './app.js';
import { errorText, h } from './dom.js';
import type { Tab } from './main.js';

export function mountBench(panel: HTMLElement, app: App): Tab {
  panel.classList.add('bench');
  panel.dataset.state = 'idle';
  const loading = h('p', { class: 'status', text: 'Loading the benchmarks…' });
  panel.append(loading);
  let loaded = false;
  return {
    shown() {
      if (loaded) return;
      loaded = true;
      import('./bench_tab.js').then(
        (m) => {
          loading.remove();
          m.buildBench(panel, app);
        },
        (e) => {
          loading.textContent = `The benchmarks failed to load: ${errorText(e)}`;
          loading.classList.add('error');
          panel.dataset.state = 'error';
        },
      );
    },
  };
}

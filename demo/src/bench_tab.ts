// The Benchmarks tab's controls, charts and tables (loaded when the tab is first shown). The suites run
// in bench_worker.ts; each row comes back as the suite adds it and lands in its group's chart and table.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip, type ChartConfiguration } from 'chart.js';
import { fmtMs, gbps, gflops } from '../../bench/lib/report.js';
import type { App } from './app.js';
import type { BenchEnv, FromWorker, Row, SuiteName, SuiteOptions, ToWorker } from './bench_protocol.js';
import benchWorkerUrl from './bench_worker.ts?worker&url';
import { errorText, h, labelled } from './dom.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

type State = 'idle' | 'running' | 'done' | 'error';
type Metric = 'gflops' | 'gbps';

const SUITE_LABELS: Record<SuiteName, { label: string; title: string }> = {
  kernels: { label: 'Kernels', title: 'matmul, layer norm, attention, softmax / sampler, transposed convolutions, copy bandwidth' },
  gpt2: { label: 'GPT-2 124M', title: 'load, prefill of 128 tokens and decode steps, f32 and f16 weights (random)' },
  gan: { label: 'GAN generators', title: 'the default 32x32 generator and a 64x64 DCGAN, batches of 1 and 16 (random weights)' },
};

/** A chart's figures, as the tests read them back from the Chart.js instance. */
export interface ChartSummary {
  group: string;
  unit: string;
  labels: string[];
  datasets: { label: string; data: (number | null)[] }[];
}

interface Series {
  unit: string;
  labels: string[];
  datasets: { label: string; data: (number | null)[] }[];
}

interface GroupView {
  section: HTMLElement;
  heading: HTMLHeadingElement;
  box: HTMLDivElement;
  canvas: HTMLCanvasElement;
  table: HTMLTableElement;
  chart?: Chart<'bar'>;
}

const isGpt2 = (group: string) => group.startsWith('GPT-2');
const isGan = (group: string) => group.startsWith('GAN');
const finite = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x) && x > 0;

function fmtNum(x: number): string {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  if (x >= 1) return x.toFixed(2);
  return x.toPrecision(2);
}

/** Tokens of a "prefill T=128" case (its ms are for all of them). */
const prefillTokens = (c: string) => Number(/^prefill T=(\d+)/.exec(c)?.[1] ?? 0);

/** What a group's chart shows: kernels their GFLOP/s or GB/s, GPT-2 ms per token, the GANs ms per batch. */
function seriesOf(group: string, rows: Row[], metric: Metric): Series {
  let unit: string;
  let value: (r: Row) => number | undefined;
  let label = (r: Row) => r.case;
  let charted = (_r: Row) => true;
  if (isGpt2(group)) {
    unit = 'ms per token';
    charted = (r) => /^(prefill|decode)/.test(r.case);
    value = (r) => (r.ms ? r.ms.median / (prefillTokens(r.case) || 1) : undefined);
    label = (r) => (prefillTokens(r.case) ? `${r.case}, per token` : r.case);
  } else if (isGan(group)) {
    unit = 'ms per batch';
    charted = (r) => /batch \d+$/.test(r.case);
    value = (r) => r.ms?.median;
  } else if (metric === 'gflops' && rows.some((r) => r.flops)) {
    unit = 'GFLOP/s';
    value = gflops;
  } else if (rows.some((r) => r.bytes)) {
    unit = 'GB/s';
    value = gbps;
  } else {
    unit = 'ms';
    value = (r) => r.ms?.median;
  }
  const shown = rows.filter((r) => charted(r) && finite(value(r)));
  const labels = [...new Set(shown.map(label))];
  const engines = [...new Set(shown.map((r) => r.engine))];
  const datasets = engines.map((engine) => ({
    label: engine,
    data: labels.map((l) => {
      const r = shown.find((x) => x.engine === engine && label(x) === l);
      return r ? value(r)! : null;
    }),
  }));
  return { unit, labels, datasets };
}

const WEBGEN = ['#2f5fd0', '#7ea2ff', '#1b3a85', '#a9bff5', '#4d79e6'];
const PEERS = ['#e07b24', '#f2b072', '#a8530e'];

function colorOf(engine: string, engines: string[]): string {
  const ours = engines.filter((e) => e.startsWith('webgen'));
  const peers = engines.filter((e) => /^(tfjs|ort|pytorch)/.test(e));
  if (engine.startsWith('webgen')) return WEBGEN[ours.indexOf(engine) % WEBGEN.length];
  if (peers.includes(engine)) return PEERS[peers.indexOf(engine) % PEERS.length];
  return '#8a8f98'; // the copy kernel: the bandwidth ceiling
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function chartConfig(s: Series): ChartConfiguration<'bar'> {
  const engines = s.datasets.map((d) => d.label);
  return {
    type: 'bar',
    data: {
      labels: s.labels,
      datasets: s.datasets.map((d) => ({ ...d, backgroundColor: colorOf(d.label, engines), borderWidth: 0 })),
    },
    options: {
      indexAxis: 'y',
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: {
        x: { beginAtZero: true, title: { display: true, text: s.unit } },
        y: { ticks: { autoSkip: false }, grid: { display: false } },
      },
      plugins: {
        legend: { position: 'bottom' },
        tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${fmtNum(c.parsed.x ?? 0)} ${s.unit}` } },
      },
    },
  };
}

/** The results table of a group: the columns its rows fill. */
function renderTable(table: HTMLTableElement, group: string, rows: Row[]): void {
  const cols: { head: string; cell: (r: Row) => string; num?: boolean }[] = [
    { head: 'case', cell: (r) => r.case },
    { head: 'engine', cell: (r) => r.engine },
    { head: 'ms (median)', cell: (r) => (r.ms ? fmtMs(r.ms.median) : ''), num: true },
    { head: 'min–max', cell: (r) => (r.ms && r.ms.n > 1 ? `${fmtMs(r.ms.min)}–${fmtMs(r.ms.max)}` : ''), num: true },
    { head: 'n', cell: (r) => (r.ms ? String(r.ms.n) : ''), num: true },
    { head: 'method', cell: (r) => r.method ?? '' },
    { head: 'GFLOP/s', cell: (r) => (finite(gflops(r)) ? fmtNum(gflops(r)!) : ''), num: true },
    { head: 'GB/s', cell: (r) => (finite(gbps(r)) ? fmtNum(gbps(r)!) : ''), num: true },
    {
      head: 'ms per token',
      cell: (r) => (isGpt2(group) && r.ms && /^(prefill|decode)/.test(r.case) ? fmtMs(r.ms.median / (prefillTokens(r.case) || 1)) : ''),
      num: true,
    },
    { head: 'value', cell: (r) => (r.value !== undefined ? `${fmtNum(r.value)} ${r.unit ?? ''}` : ''), num: true },
    { head: 'first call ms', cell: (r) => (r.firstMs !== undefined ? fmtMs(r.firstMs) : ''), num: true },
    { head: 'note', cell: (r) => (r.error ? `ERROR: ${r.error}` : (r.note ?? '')) },
  ];
  const used = cols.filter((c, i) => i < 2 || c.head === 'note' || rows.some((r) => c.cell(r) !== ''));
  const head = h('tr', {}, ...used.map((c) => h('th', { scope: 'col', text: c.head, class: c.num ? 'num' : undefined })));
  const body = rows.map((r) =>
    h(
      'tr',
      { class: r.error ? 'error' : undefined },
      ...used.map((c) =>
        h(c.head === 'case' ? 'th' : 'td', {
          scope: c.head === 'case' ? 'row' : undefined,
          class: c.num ? 'num' : undefined,
          text: c.cell(r),
        }),
      ),
    ),
  );
  table.replaceChildren(h('thead', {}, head), h('tbody', {}, ...body));
}

/** The worker, from a blob: URL that imports its module, so it runs under this page's CSP (see bench_worker.ts). */
function startWorker(): Worker {
  const src = new URL(benchWorkerUrl, document.baseURI).href;
  const boot = URL.createObjectURL(new Blob([`import ${JSON.stringify(src)};\n`], { type: 'text/javascript' }));
  const worker = new Worker(boot, { type: 'module', name: 'webgen benchmarks' });
  setTimeout(() => URL.revokeObjectURL(boot), 60_000);
  return worker;
}

/** Whether this page's policy lets code compile WebAssembly (it does not: long.js inside TF.js tries). */
function policyAllowsWasm(): boolean {
  const meta = document.querySelector<HTMLMetaElement>('meta[http-equiv="Content-Security-Policy"]');
  if (!meta) return true;
  const script = /(?:^|;)\s*script-src([^;]*)/.exec(meta.content) ?? /(?:^|;)\s*default-src([^;]*)/.exec(meta.content);
  return !script || /'(wasm-)?unsafe-eval'/.test(script[1]);
}

function envLine(env: BenchEnv): string {
  const a = env.adapter;
  const name = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ') || 'unnamed adapter';
  const tf = env.tfjs
    ? env.tfjs.error
      ? `TensorFlow.js ${env.tfjs.version}: not available (${env.tfjs.error})`
      : `TensorFlow.js ${env.tfjs.version} WebGPU on ${env.tfjs.adapter || 'the same adapter'}${env.tfjs.timestamps ? ', timestamps' : ''}`
    : 'TensorFlow.js left out';
  return [
    `Worker's adapter: ${name}`,
    env.timestamps ? 'GPU timestamps' : 'no timestamp-query (wall-clock times)',
    env.f16 ? 'shader-f16' : 'no shader-f16',
    tf,
    `${env.hardwareConcurrency} CPU threads`,
  ].join(' · ');
}

export function buildBench(panel: HTMLElement, app: App): void {
  Chart.defaults.color = cssVar('--muted', '#5d6470'); // axis and legend text, in the page's (light or dark) scheme
  Chart.defaults.borderColor = cssVar('--line', '#d9dce1');
  const software = !!app.adapter.info.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe/i.test(app.adapter.info.description ?? '');
  const suiteBoxes = (Object.keys(SUITE_LABELS) as SuiteName[]).map((name) => {
    const box = h('input', { type: 'checkbox', id: `bench-suite-${name}`, checked: true, value: name });
    return { name, box, label: labelled(SUITE_LABELS[name].label, box, SUITE_LABELS[name].title) };
  });
  const quick = h('input', { type: 'checkbox', id: 'bench-quick', checked: true });
  const tfjs = h('input', { type: 'checkbox', id: 'bench-tfjs', checked: true });
  const variants = h('input', { type: 'checkbox', id: 'bench-variants' });
  const filter = h('input', {
    type: 'text',
    id: 'bench-filter',
    size: 32,
    spellcheck: 'false',
    autocomplete: 'off',
    placeholder: 'e.g. matmul decode|layer norm',
    'aria-describedby': 'bench-filter-hint',
  });
  const filterHint = h('span', { id: 'bench-filter-hint', class: 'hint' });
  const metric = h(
    'select',
    { id: 'bench-metric' },
    h('option', { value: 'gflops', text: 'GFLOP/s' }),
    h('option', { value: 'gbps', text: 'GB/s' }),
  );
  const runButton = h('button', { id: 'bench-run', type: 'button', class: 'primary', text: 'Run' });
  const stopButton = h('button', { id: 'bench-stop', type: 'button', text: 'Stop', disabled: true });
  const download = h('button', { id: 'bench-download', type: 'button', text: 'Download JSON', disabled: true });
  const status = h('p', { id: 'bench-status', class: 'stats', role: 'status' });
  const envP = h('p', { id: 'bench-env', class: 'stats', text: 'The adapter and TensorFlow.js are reported here once a run starts.' });
  const log = h('pre', {
    id: 'bench-log',
    class: 'bench-log',
    role: 'log',
    'aria-live': 'polite',
    'aria-label': 'Benchmark progress',
    tabindex: 0,
  });
  const results = h('div', { id: 'bench-results' });

  panel.append(
    h(
      'p',
      { class: 'intro' },
      "The project's benchmarks (",
      h('code', { text: 'bench/' }),
      ', the code ',
      h('code', { text: 'npm run bench:browser' }),
      " runs) in a worker of this page: webgen's kernels at GPT-2 124M's and the GAN generators' shapes beside TensorFlow.js WebGPU " +
        'on the same adapter, and the models end to end with random weights. Every kernel is checked against a CPU reference before it is timed.',
    ),
    ...(software
      ? [
          h('p', {
            class: 'notice-inline',
            text: 'This is a software adapter (a CPU): a full run takes tens of minutes. Keep "quick" on, or run a few cases with a filter.',
          }),
        ]
      : []),
    h(
      'fieldset',
      {},
      h('legend', { text: 'Suites' }),
      ...suiteBoxes.map((s) => s.label),
      h('br'),
      labelled('Quick', quick, 'fewer rounds and fewer shapes (no prefill LM head, one context)'),
      labelled('TensorFlow.js beside webgen', tfjs, "TensorFlow.js' WebGPU backend on the same adapter, the peer of the kernels and GANs"),
      labelled("webgen's other kernel paths", variants, 'also time the kernel paths webgen does not pick on this adapter'),
      h('br'),
      labelled('Filter (regular expression on case names)', filter),
      filterHint,
    ),
    h('div', { class: 'row' }, runButton, stopButton, download, labelled('Kernel charts show', metric)),
    status,
    envP,
    log,
    results,
  );

  let state: State = 'idle';
  let rows: Row[] = [];
  let env: BenchEnv | undefined;
  let worker: Worker | undefined;
  let started = '';
  let finished = '';
  let options: (SuiteOptions & { suites: SuiteName[] }) | undefined;
  const violations: string[] = [];
  const groups = new Map<string, GroupView>();
  const dirty = new Set<string>();
  let frame = 0;

  const setState = (s: State) => {
    state = s;
    panel.dataset.state = s;
    runButton.disabled = s === 'running';
    stopButton.disabled = s !== 'running';
    download.disabled = rows.length === 0 || s === 'running';
    for (const c of [...suiteBoxes.map((b) => b.box), quick, tfjs, variants, filter]) c.disabled = s === 'running';
  };
  const say = (line: string) => {
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(line + '\n');
    if (atEnd) log.scrollTop = log.scrollHeight;
  };

  const checkFilter = () => {
    const f = filter.value.trim();
    let bad = false;
    try {
      new RegExp(f, 'i');
    } catch {
      bad = true;
    }
    filter.setAttribute('aria-invalid', String(bad));
    filterHint.textContent = bad ? 'Not a regular expression: matched as plain text.' : f ? '' : 'Empty: every case.';
  };
  filter.addEventListener('input', checkFilter);
  filter.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && state !== 'running') runButton.click();
  });
  checkFilter();

  const viewOf = (group: string): GroupView => {
    let v = groups.get(group);
    if (!v) {
      const heading = h('h3', { text: group });
      const canvas = h('canvas', { role: 'img', 'aria-label': `${group}: chart of the results in the table below` });
      const box = h('div', { class: 'bench-chart' }, canvas);
      const table = h('table', { class: 'bench-table' });
      const section = h(
        'section',
        { class: 'bench-group', 'data-group': group },
        heading,
        box,
        h('div', { class: 'bench-table-wrap' }, table),
      );
      results.append(section);
      v = { section, heading, box, canvas, table };
      groups.set(group, v);
    }
    return v;
  };

  const render = (group: string) => {
    const v = viewOf(group);
    const mine = rows.filter((r) => r.group === group);
    renderTable(v.table, group, mine);
    const s = seriesOf(group, mine, metric.value as Metric);
    v.heading.textContent = s.labels.length ? `${group} (${s.unit})` : group;
    v.box.hidden = s.labels.length === 0;
    if (!s.labels.length) return;
    // CSSOM (allowed under style-src 'self'): room for every bar
    v.box.style.height = `${Math.round(70 + s.labels.length * (12 + 16 * s.datasets.length))}px`;
    const config = chartConfig(s);
    if (!v.chart) v.chart = new Chart(v.canvas, config);
    else {
      v.chart.data = config.data;
      v.chart.options = config.options!;
      v.chart.update();
    }
  };
  const flush = () => {
    cancelAnimationFrame(frame);
    frame = 0;
    for (const g of dirty) render(g);
    dirty.clear();
  };
  const schedule = (group: string) => {
    dirty.add(group);
    frame ||= requestAnimationFrame(flush);
  };
  metric.addEventListener('change', () => {
    for (const g of groups.keys()) dirty.add(g);
    flush();
  });

  const clear = () => {
    for (const v of groups.values()) v.chart?.destroy();
    groups.clear();
    dirty.clear();
    results.replaceChildren();
    rows = [];
    env = undefined;
    violations.length = 0;
    log.textContent = '';
  };

  const stopWorker = () => {
    worker?.terminate();
    worker = undefined;
  };

  const finish = (s: State, line: string) => {
    stopWorker();
    flush();
    finished = new Date().toISOString();
    say(line);
    status.textContent = line;
    setState(s);
  };

  const onMessage = (m: FromWorker) => {
    switch (m.type) {
      case 'log':
        say(m.line);
        break;
      case 'env':
        env = m.env;
        envP.textContent = envLine(m.env);
        break;
      case 'row':
        rows.push(m.row);
        schedule(m.row.group);
        status.textContent = `Running… ${rows.length} result${rows.length === 1 ? '' : 's'} so far (${m.row.group}: ${m.row.case}).`;
        break;
      case 'suite':
        say(`${m.name}: ${m.rows} results in ${(m.ms / 1000).toFixed(1)} s.`);
        break;
      case 'csp':
        violations.push(m.violation);
        say(`Content-Security-Policy violation in the worker: ${m.violation}`);
        break;
      case 'done':
        finish('done', rows.length ? `Done: ${rows.length} results.` : 'Done: no case matched the filter.');
        break;
      case 'error':
        finish('error', `Error: ${m.message}`);
        break;
    }
  };

  runButton.addEventListener('click', () => {
    if (state === 'running') return;
    const suites = suiteBoxes.filter((s) => s.box.checked).map((s) => s.name);
    if (!suites.length) {
      status.textContent = 'Choose at least one suite.';
      return;
    }
    clear();
    const opts: SuiteOptions = {
      quick: quick.checked,
      filter: filter.value.trim() || undefined,
      noTfjs: !tfjs.checked,
      noVariants: !variants.checked,
    };
    options = { suites, ...opts };
    started = new Date().toISOString();
    finished = '';
    setState('running');
    status.textContent = 'Starting…';
    say(`Running ${suites.join(', ')}${opts.quick ? ' (quick)' : ''}${opts.filter ? `, cases matching /${opts.filter}/i` : ''}.`);
    try {
      const w = (worker = startWorker());
      w.addEventListener('message', (e: MessageEvent<FromWorker>) => {
        if (w === worker) onMessage(e.data);
      });
      w.addEventListener('error', (e) => {
        if (w !== worker) return;
        e.preventDefault();
        finish('error', `Error: the benchmark worker failed${e.message ? `: ${e.message}` : ' to start'}.`);
      });
      const msg: ToWorker = { type: 'run', suites, opts, wasm: policyAllowsWasm() ? 'allow' : 'refuse' };
      w.postMessage(msg);
    } catch (e) {
      finish('error', `Error: ${errorText(e)}`);
    }
  });

  stopButton.addEventListener('click', () => {
    if (state !== 'running') return;
    finish('idle', `Stopped; ${rows.length} result${rows.length === 1 ? '' : 's'} kept.`);
  });

  download.addEventListener('click', () => {
    const report = {
      title: 'webgen benchmarks (demo page)',
      command: `demo page: ${JSON.stringify(options)}`,
      quick: !!options?.quick,
      started,
      finished,
      env: env
        ? {
            runtime: 'chromium',
            version: /(?:Chrome|Firefox|Version)\/([\d.]+)/.exec(navigator.userAgent)?.[0] ?? navigator.userAgent,
            ...env,
          }
        : undefined,
      rows,
    };
    const url = URL.createObjectURL(new Blob([JSON.stringify(report, null, 2)], { type: 'application/json' }));
    const a = h('a', { href: url, download: `webgen-bench-${started.replace(/[:.]/g, '-')}.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });

  setState('idle');

  // for tests and the curious: read-only views of the results
  Object.defineProperty(window, '__demoBench', {
    configurable: true,
    value: Object.freeze({
      get state(): State {
        return state;
      },
      get rows(): readonly Row[] {
        return structuredClone(rows);
      },
      get env(): BenchEnv | undefined {
        return env && structuredClone(env);
      },
      get violations(): readonly string[] {
        return [...violations];
      },
      charts(): ChartSummary[] {
        return [...groups].flatMap(([group, v]) =>
          v.chart && !v.box.hidden
            ? [
                {
                  group,
                  unit: String((v.chart.options.scales?.x as { title?: { text?: string } } | undefined)?.title?.text ?? ''),
                  labels: (v.chart.data.labels ?? []).map(String),
                  datasets: v.chart.data.datasets.map((d) => ({ label: String(d.label), data: [...(d.data as (number | null)[])] })),
                },
              ]
            : [],
        );
      },
    }),
  });
}

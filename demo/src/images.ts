// The Images tab: a grid of images from a GAN generator in the worker engine (64 latents drawn from a
// seed), a latent walk from any of them (a loop of spherical paths through a few random latents,
// generated in batches and played as an animation), the walk drawn in 3-D on its principal directions
// (walk3d.ts, a WebGPU render pipeline of the page's own), PNG downloads, and generators of the
// visitor's own (model.safetensors, with its generator.json unless it is a PyTorch DCGAN).
import { encodePng, gridRgba, OptionError, randomLatents, slerpLatents, toImageData, type ImageSpec } from 'webgen';
import { DEFAULT_GENERATOR, type App, type LoadedGenerator } from './app.js';
import { errorText, formatBytes, h, labelled, numberInput } from './dom.js';
import { normalizePoints, principalCoordinates } from './images_pca.js';
import type { Tab } from './main.js';
import { Walk3D, type PresentMode, type Walk3DState } from './walk3d.js';

/** Images in the grid, and per row. */
const GRID = 64;
const COLS = 8;
/** The walk: keyframes (the chosen image's latent and random ones), frames between two, frames per second. */
const KEYFRAMES = 4;
const STEPS = 24;
const FPS = 12;
/** Latents per generate() call of a walk (the generator's default batch limit). */
const CHUNK = 64;
/** CSS pixels: a grid cell, the walk's canvas, and a downloaded PNG (at least; integer upscaling). */
const CELL_PX = 64;
const WALK_PX = 224;
const DOWNLOAD_PX = 256;
const FIRST_SEED = 1;

interface Walk {
  gan: LoadedGenerator;
  seed: number;
  /** The grid image it starts from. */
  index: number;
  count: number;
  /** [count, nz] latents and [count, ...] images in the generator's layout. */
  latents: Float32Array;
  images: Float32Array;
  frames: ImageData[];
  /** [count, 3] principal coordinates (unit radius). */
  points: Float32Array;
}

/** Read-only state for tests and the curious: `window.__demoImages`. */
export interface ImagesDebug {
  readonly seed: number | undefined;
  readonly generator: string | undefined;
  readonly frame: number;
  readonly frames: number;
  readonly walkFrom: number | undefined;
  readonly walk3dState: Walk3DState;
  /** How the 3-D view reaches the page: a WebGPU canvas, or pictures copied to a 2-D canvas. */
  readonly walk3dPresent: PresentMode;
  /** How many devices the 3-D view has had. */
  readonly walk3dDevices: number;
  /** The walk's frames on the 3-D canvas, in client (viewport) CSS pixels, nearest the camera last on ties. */
  points(): { x: number; y: number }[];
  /** Loses the 3-D view's device on purpose, to see it recover. */
  loseWalk3dDevice(): void;
  /**
   * Draws the 3-D view now; once the promise settles the picture is on the canvas (a WebGPU canvas:
   * until the page presents it, so read it in the same task).
   */
  render3d(): Promise<void>;
}

/** An integer scale for pixel-crisp upscaling of `size` pixels to about `target`. */
const upscale = (size: number, target: number) => Math.max(1, Math.floor(target / size));

/** HSL (0..360, 0..1, 0..1) to RGB 0..1. */
function hsl(hue: number, s: number, l: number): [number, number, number] {
  const f = (n: number) => {
    const k = (n + hue / 30) % 12;
    return l - s * Math.min(l, 1 - l) * Math.max(-1, Math.min(k - 3, 9 - k, 1));
  };
  return [f(0), f(8), f(4)];
}

/** A seed for a walk's random keyframes, from the grid's seed and the image (the same walk every time). */
const walkSeed = (seed: number, index: number) => (Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) | 0;

/** The dropped or chosen files as a model folder: the weights, and a graph JSON as generator.json. */
async function filesToFolder(files: File[]): Promise<{ folder: Record<string, File>; name: string }> {
  const folder: Record<string, File> = {};
  const weights = files.filter((f) => /\.safetensors$/i.test(f.name));
  if (weights.length > 1) throw new OptionError(`choose one .safetensors file, not ${weights.length}`);
  const other = files.find((f) => !/\.(safetensors|json)$/i.test(f.name));
  if (other) throw new OptionError(`${other.name}: not a .safetensors or .json file`);
  if (weights[0]) folder['model.safetensors'] = weights[0];
  for (const f of files.filter((f) => /\.json$/i.test(f.name))) {
    // a graph has a list of layers; any other JSON (a config.json of metadata) goes along under its name
    const graph = f.name === 'generator.json' || /"layers"\s*:/.test(await f.text());
    folder[graph ? 'generator.json' : f.name] = f;
  }
  return { folder, name: weights[0]?.name ?? files.map((f) => f.name).join(', ') };
}

export function mountImages(panel: HTMLElement, app: App): Tab {
  panel.classList.add('images');
  Object.assign(panel.dataset, { grid: 'idle', walk: 'none', frame: '0', load: 'idle' });

  // the controls
  const seedInput = numberInput('images-seed', FIRST_SEED, { min: 0, max: 2 ** 31 - 1 });
  const generateButton = h('button', { id: 'images-generate', type: 'button', text: 'Generate' });
  const newSeedButton = h('button', { id: 'images-new-seed', type: 'button', class: 'primary', text: 'New seed' });
  const progress = h('progress', { id: 'images-progress', max: 1, value: 0, 'aria-label': 'Progress', hidden: true });
  const status = h('p', { id: 'images-status', class: 'status', role: 'status', 'aria-live': 'polite' });
  const grid = h('div', {
    id: 'images-grid',
    class: 'images-grid',
    role: 'group',
    'aria-label': 'Generated images: choose one to walk from it',
  });

  const walkCanvas = h('canvas', {
    id: 'walk-canvas',
    class: 'walk-canvas',
    width: 32,
    height: 32,
    role: 'img',
    'aria-label': 'No walk yet',
  });
  const walkCaption = h('figcaption', { id: 'walk-caption', text: 'Click an image (or focus it and press Enter) to walk from it.' });
  const walk3dCanvas = h('canvas', {
    id: 'walk3d-canvas',
    class: 'walk3d-canvas',
    tabindex: 0,
    role: 'img',
    'aria-label': 'The latent walk in 3-D: drag or use the arrow keys to rotate, + and - to zoom; click a point to show that frame',
  });
  const axisLabels = h('div', { class: 'walk3d-labels', 'aria-hidden': 'true' });
  const walk3dStatus = h('p', { id: 'walk3d-status', class: 'status', 'aria-live': 'polite' });
  const walk3dCaption = h('figcaption', {
    text: 'The walk’s latents on their three principal directions: each slerp segment is an arc. Drag to rotate, click a point to show that frame.',
  });
  const playButton = h('button', { id: 'walk-play', type: 'button', text: 'Play', disabled: true });
  const frameInput = h('input', { id: 'walk-frame', type: 'range', min: 0, max: 0, step: 1, value: 0, disabled: true });
  const downloadButton = h('button', { id: 'images-download', type: 'button', text: 'Download PNG', disabled: true });
  const downloadLink = h('a', { id: 'images-download-link', hidden: true });

  const fileInput = h('input', { id: 'images-files', type: 'file', multiple: true, accept: '.safetensors,.json' });
  const dropzone = h(
    'div',
    { id: 'images-drop', class: 'dropzone' },
    'Drop model.safetensors (and its generator.json) here, or ',
    labelled('choose files:', fileInput),
  );
  const defaultButton = h('button', { id: 'images-use-default', type: 'button', text: 'Back to the default generator', hidden: true });
  const loadError = h('p', { id: 'images-load-error', class: 'error', role: 'alert' });

  panel.append(
    h('p', {
      class: 'images-intro',
      text:
        'A GAN generator (a DCGAN trained on emoji, 32x32) turns random latent vectors into images, in the worker. ' +
        'Pick an image to walk through latent space from it.',
    }),
    h('div', { class: 'row' }, labelled('Seed', seedInput, 'The seed the grid’s latents are drawn from'), generateButton, newSeedButton),
    progress,
    status,
    h(
      'div',
      { class: 'images-layout' },
      grid,
      h(
        'section',
        { class: 'images-walk', 'aria-label': 'Latent walk' },
        h(
          'div',
          { class: 'images-views' },
          h('figure', { class: 'walk-figure' }, walkCanvas, walkCaption),
          h('figure', { class: 'walk3d' }, h('div', { class: 'walk3d-stage' }, walk3dCanvas, axisLabels), walk3dCaption, walk3dStatus),
        ),
        h('div', { class: 'row' }, playButton, labelled('Frame', frameInput), downloadButton, downloadLink),
      ),
    ),
    h(
      'fieldset',
      { class: 'images-load' },
      h('legend', { text: 'Load another generator' }),
      h('p', {
        class: 'status',
        text:
          'A PyTorch DCGAN generator is recognised from its tensors alone; any other needs its layer list (a generator.json). ' +
          'The files stay on this computer.',
      }),
      dropzone,
      h('div', { class: 'row' }, defaultButton),
      loadError,
    ),
  );

  // state
  let gan: LoadedGenerator | undefined;
  let spec: ImageSpec | undefined;
  let cells: { button: HTMLButtonElement; ctx: CanvasRenderingContext2D }[] = [];
  let gridImages: Float32Array | undefined;
  let gridSeed: number | undefined;
  let selected = -1;
  let active = 0;
  let walk: Walk | undefined;
  let frame = 0;
  let playing = false;
  let raf = 0;
  let last = 0;
  let gridToken = 0;
  let walkToken = 0;
  let loadToken = 0;
  let started = false;
  // written with putImageData only (and read back by tests): CPU-backed canvases suit that best
  const walkCtx = walkCanvas.getContext('2d', { willReadFrequently: true })!;

  walkCanvas.addEventListener('contextrestored', () => {
    if (walk && frame >= 0) walkCtx.putImageData(walk.frames[frame], 0, 0);
  });

  const say = (text: string, error = false) => {
    status.textContent = text;
    status.classList.toggle('error', error);
  };
  const showProgress = (fraction: number | undefined) => {
    progress.hidden = fraction === undefined;
    if (fraction !== undefined) progress.value = fraction;
  };

  const walk3d = new Walk3D(walk3dCanvas, {
    labels: axisLabels,
    onPick: (i) => {
      if (!walk) return;
      setPlaying(false);
      setFrame(i);
    },
    onStatus: (text) => (walk3dStatus.textContent = text),
    onState: (s) => {
      panel.dataset.walk3d = s;
      if (s === 'ready') walk3dStatus.textContent = '';
    },
  });

  // the grid: a button per image (one tab stop; the arrow keys move between images)
  function buildCells(s: ImageSpec): void {
    const scale = upscale(s.width, CELL_PX);
    const cw = s.width > CELL_PX ? CELL_PX : s.width * scale;
    const ch = Math.round((cw * s.height) / s.width);
    grid.replaceChildren();
    grid.style.setProperty('--cols', String(COLS));
    cells = Array.from({ length: GRID }, (_, i) => {
      const canvas = h('canvas', { width: s.width, height: s.height, 'aria-hidden': 'true' });
      canvas.style.width = `${cw}px`;
      canvas.style.height = `${ch}px`;
      const button = h('button', { type: 'button', class: 'images-cell', tabindex: i === active ? 0 : -1, 'data-index': i }, canvas);
      // a canvas whose context the browser lost and restored is blank: draw its image again
      canvas.addEventListener('contextrestored', () => {
        if (gridImages && spec) cells[i]?.ctx.putImageData(toImageData(gridImages, spec, i) as ImageData, 0, 0);
      });
      button.addEventListener('click', () => {
        focusCell(i, false);
        void startWalk(i);
      });
      grid.append(button);
      return { button, ctx: canvas.getContext('2d', { willReadFrequently: true })! };
    });
    labelCells();
  }

  function labelCells(): void {
    cells.forEach(({ button }, i) =>
      button.setAttribute('aria-label', `Image ${i + 1} of ${GRID}${gridSeed === undefined ? '' : `, seed ${gridSeed}`}: walk from it`),
    );
  }

  function focusCell(i: number, focus = true): void {
    active = i;
    cells.forEach(({ button }, j) => (button.tabIndex = i === j ? 0 : -1));
    if (focus) cells[i]?.button.focus();
  }

  grid.addEventListener('keydown', (e) => {
    const moves: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -COLS, ArrowDown: COLS };
    let to = e.key in moves ? active + moves[e.key] : e.key === 'Home' ? 0 : e.key === 'End' ? cells.length - 1 : -1;
    if (to === -1 && !(e.key in moves)) return;
    e.preventDefault();
    to = Math.max(0, Math.min(cells.length - 1, to));
    focusCell(to);
  });

  function markSelected(i: number): void {
    selected = i;
    cells.forEach(({ button }, j) => (j === i ? button.setAttribute('aria-current', 'true') : button.removeAttribute('aria-current')));
  }

  async function showGrid(seed: number): Promise<void> {
    const g = gan;
    if (!g || !spec) return;
    const token = ++gridToken;
    const s = spec;
    panel.dataset.grid = 'generating';
    grid.setAttribute('aria-busy', 'true');
    say(`Generating ${GRID} images from seed ${seed}…`);
    const t0 = performance.now();
    try {
      const images = await g.gan.generate({ count: GRID, seed });
      if (token !== gridToken) return;
      gridImages = images;
      gridSeed = seed;
      cells.forEach(({ ctx }, i) => ctx.putImageData(toImageData(images, s, i) as ImageData, 0, 0));
      markSelected(walk && walk.seed === seed && walk.gan === g ? walk.index : -1);
      labelCells();
      panel.dataset.seed = String(seed);
      panel.dataset.grid = 'ready';
      downloadButton.disabled = false;
      if (walk3d.state === 'idle') void walk3d.start();
      say(`${GRID} images from seed ${seed} (${((performance.now() - t0) / 1000).toFixed(1)} s). Pick one to walk from it.`);
    } catch (e) {
      if (token !== gridToken) return;
      panel.dataset.grid = 'error';
      say(`The images failed: ${errorText(e)}`, true);
    } finally {
      if (token === gridToken) grid.removeAttribute('aria-busy');
    }
  }

  /** The seed input's value, or undefined (and a message) when it is not a seed. */
  function seedValue(): number | undefined {
    const v = Number(seedInput.value);
    if (seedInput.value.trim() !== '' && Number.isInteger(v) && v >= 0 && v < 2 ** 31) return v;
    say('The seed must be a whole number from 0 to 2147483647.', true);
    return undefined;
  }

  generateButton.addEventListener('click', () => {
    const s = seedValue();
    if (s !== undefined) void showGrid(s);
  });
  seedInput.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter') return;
    e.preventDefault();
    generateButton.click();
  });
  newSeedButton.addEventListener('click', () => {
    let s: number;
    do s = Math.floor(Math.random() * 1_000_000);
    while (s === gridSeed);
    seedInput.value = String(s);
    void showGrid(s);
  });

  // the walk
  function walkLatents(nz: number, seed: number, index: number): Float32Array {
    const z0 = randomLatents(GRID, nz, seed).subarray(index * nz, (index + 1) * nz);
    const others = randomLatents(KEYFRAMES - 1, nz, walkSeed(seed, index));
    const keys = [z0, ...Array.from({ length: KEYFRAMES - 1 }, (_, k) => others.subarray(k * nz, (k + 1) * nz))];
    const z = new Float32Array(KEYFRAMES * STEPS * nz);
    // each segment without its last frame: that is the next segment's first (the last segment's is frame 0)
    for (let k = 0; k < KEYFRAMES; k++)
      z.set(slerpLatents(keys[k], keys[(k + 1) % KEYFRAMES], STEPS + 1).subarray(0, STEPS * nz), k * STEPS * nz);
    return z;
  }

  async function startWalk(index: number): Promise<void> {
    const g = gan;
    const s = spec;
    const seed = gridSeed;
    if (!g || !s || seed === undefined) return;
    markSelected(index);
    if (walk && walk.gan === g && walk.seed === seed && walk.index === index) {
      setFrame(0);
      setPlaying(true);
      return;
    }
    const token = ++walkToken;
    const nz = g.gan.nz;
    const count = KEYFRAMES * STEPS;
    const per = s.channels * s.height * s.width;
    const latents = walkLatents(nz, seed, index);
    panel.dataset.walk = 'generating';
    setPlaying(false);
    const t0 = performance.now();
    say(`Walking from image ${index + 1}: generating ${count} frames…`);
    showProgress(0);
    try {
      const images = new Float32Array(count * per);
      for (let i0 = 0; i0 < count; i0 += CHUNK) {
        const i1 = Math.min(count, i0 + CHUNK);
        images.set(await g.gan.generate({ z: latents.subarray(i0 * nz, i1 * nz) }), i0 * per);
        if (token !== walkToken) return;
        showProgress(i1 / count);
        say(`Walking from image ${index + 1}: ${i1} of ${count} frames…`);
      }
      const frames = Array.from({ length: count }, (_, i) => toImageData(images, s, i) as ImageData);
      const pca = principalCoordinates(latents, count, nz, 3);
      const points = normalizePoints(pca.coords);
      walk = { gan: g, seed, index, count, latents, images, frames, points };
      const colors = new Float32Array(count * 3);
      for (let i = 0; i < count; i++) colors.set(hsl((360 * i) / count, 0.75, 0.62), i * 3);
      walk3d.setPath(points, colors, {
        keyframes: Array.from({ length: KEYFRAMES }, (_, k) => k * STEPS),
        closed: true,
        axes: pca.explained.map((e, i) => `PC${i + 1} ${Math.round(e * 100)}%`),
      });
      if (walk3d.state === 'failed') void walk3d.start(); // another try at a device
      frameInput.max = String(count - 1);
      frameInput.disabled = false;
      playButton.disabled = false;
      const scale = upscale(s.width, WALK_PX);
      walkCanvas.width = s.width;
      walkCanvas.height = s.height;
      walkCanvas.style.width = `${s.width * scale}px`;
      walkCanvas.style.height = `${s.height * scale}px`;
      panel.dataset.walk = 'ready';
      panel.dataset.walkFrom = String(index);
      frame = -1;
      setFrame(0);
      const still = matchMedia('(prefers-reduced-motion: reduce)').matches;
      setPlaying(!still);
      const shown = pca.explained.reduce((a, b) => a + b, 0);
      say(
        `A walk of ${count} frames from image ${index + 1} through ${KEYFRAMES - 1} random latents and back ` +
          `(${((performance.now() - t0) / 1000).toFixed(1)} s); the 3-D view shows ${Math.round(shown * 100)}% of its variance.`,
      );
    } catch (e) {
      if (token !== walkToken) return;
      panel.dataset.walk = 'error';
      say(`The walk failed: ${errorText(e)}`, true);
    } finally {
      if (token === walkToken) showProgress(undefined);
    }
  }

  function setFrame(i: number): void {
    if (!walk || i === frame) return;
    frame = i;
    walkCtx.putImageData(walk.frames[i], 0, 0);
    frameInput.value = String(i);
    frameInput.setAttribute('aria-valuetext', `Frame ${i + 1} of ${walk.count}`);
    walkCaption.textContent = `Frame ${i + 1} of ${walk.count}, walking from image ${walk.index + 1} (seed ${walk.seed}).`;
    walkCanvas.setAttribute('aria-label', `Frame ${i + 1} of ${walk.count} of the latent walk from image ${walk.index + 1}`);
    walkCanvas.dataset.frame = String(i);
    panel.dataset.frame = String(i);
    walk3d.setCurrent(i);
  }

  function tick(t: number): void {
    raf = 0;
    if (!playing || !walk || panel.hidden) return;
    if (!last) last = t;
    const steps = Math.floor(((t - last) * FPS) / 1000);
    if (steps > 0) {
      last += (steps * 1000) / FPS;
      setFrame((frame + steps) % walk.count);
    }
    raf = requestAnimationFrame(tick);
  }

  function setPlaying(p: boolean): void {
    playing = p && !!walk;
    playButton.textContent = playing ? 'Pause' : 'Play';
    panel.dataset.playing = String(playing);
    if (playing && !raf) {
      last = 0;
      raf = requestAnimationFrame(tick);
    }
  }

  function clearWalk(): void {
    walkToken++;
    walk = undefined;
    setPlaying(false);
    frame = 0;
    walkCtx.clearRect(0, 0, walkCanvas.width, walkCanvas.height);
    walk3d.setPath(new Float32Array(0), new Float32Array(0));
    frameInput.disabled = true;
    playButton.disabled = true;
    walkCaption.textContent = 'Click an image (or focus it and press Enter) to walk from it.';
    walkCanvas.setAttribute('aria-label', 'No walk yet');
    Object.assign(panel.dataset, { walk: 'none', frame: '0' });
    delete panel.dataset.walkFrom;
  }

  playButton.addEventListener('click', () => setPlaying(!playing));
  frameInput.addEventListener('input', () => {
    setPlaying(false);
    setFrame(Number(frameInput.value));
  });

  // downloads: the walk's current frame, else the chosen (or first) grid image, upscaled, as a PNG
  downloadButton.addEventListener('click', async () => {
    const s = spec;
    if (!s) return;
    const slug = (gan?.name ?? 'generator').replace(/\.safetensors$/i, '').replace(/[^\w.-]+/g, '-');
    const pick = walk
      ? { images: walk.images, index: frame, name: `webgen-${slug}-seed${walk.seed}-image${walk.index + 1}-frame${frame + 1}.png` }
      : gridImages
        ? { images: gridImages, index: Math.max(0, selected), name: `webgen-${slug}-seed${gridSeed}-image${Math.max(0, selected) + 1}.png` }
        : undefined;
    if (!pick) return;
    try {
      const per = s.channels * s.height * s.width;
      const one = pick.images.subarray(pick.index * per, (pick.index + 1) * per);
      const scale = upscale(Math.max(s.width, s.height), DOWNLOAD_PX);
      const png = await encodePng(gridRgba(one, s, { cols: 1, pad: 0, scale }));
      const blob = new Blob([png as Uint8Array<ArrayBuffer>], { type: 'image/png' });
      const old = downloadLink.getAttribute('href');
      if (old) URL.revokeObjectURL(old); // the previous download's: kept until now so it can finish
      downloadLink.href = URL.createObjectURL(blob);
      downloadLink.download = pick.name;
      downloadLink.click();
      panel.dataset.download = pick.name;
      say(`Saved ${pick.name} (${s.width * scale}x${s.height * scale}, ${formatBytes(blob.size)}).`);
    } catch (e) {
      say(`The PNG failed: ${errorText(e)}`, true);
    }
  });

  // generators: the default, or the visitor's files
  function useGenerator(g: LoadedGenerator): void {
    if (g === gan) return;
    gan = g;
    spec = g.gan.image;
    gridImages = undefined;
    gridSeed = undefined;
    selected = -1;
    clearWalk();
    buildCells(spec);
    panel.dataset.generator = g.name;
    defaultButton.hidden = g.name === 'default';
    defaultButton.textContent = 'Back to the default generator';
    const s = seedValue() ?? FIRST_SEED;
    void showGrid(s);
  }
  app.generator.watch((g) => g && useGenerator(g));

  async function load(source: 'default' | File[]): Promise<void> {
    const token = ++loadToken;
    const first = !gan;
    panel.dataset.load = 'loading';
    if (first) panel.dataset.grid = 'loading';
    loadError.textContent = '';
    showProgress(0);
    try {
      const { folder, name } = source === 'default' ? { folder: DEFAULT_GENERATOR, name: 'default' } : await filesToFolder(source);
      const what = name === 'default' ? 'the default generator' : name;
      say(`Loading ${what}…`);
      const loaded = await app.engine.loadGenerator(folder, {
        onProgress: (p) => {
          if (token !== loadToken) return;
          showProgress(p.fraction);
          say(`Loading ${what}: ${Math.round(p.fraction * 100)}%`);
        },
      });
      if (token !== loadToken) {
        void loaded.dispose().catch(() => undefined);
        return;
      }
      const old = app.generator.value;
      panel.dataset.load = 'ready';
      showProgress(undefined);
      app.generator.set({ gan: loaded, name }); // the watcher shows it
      if (old && old.gan !== loaded) void old.gan.dispose().catch(() => undefined);
    } catch (e) {
      if (token !== loadToken) return;
      showProgress(undefined);
      panel.dataset.load = 'error';
      if (first) {
        panel.dataset.grid = 'error';
        say(`The generator failed to load: ${errorText(e)}`, true);
        defaultButton.textContent = 'Load the default generator again';
        defaultButton.hidden = source !== 'default';
      } else {
        loadError.textContent = errorText(e);
        say(`Still showing ${gan?.name === 'default' ? 'the default generator' : gan?.name}.`);
      }
    }
  }

  fileInput.addEventListener('change', () => {
    const files = [...(fileInput.files ?? [])];
    fileInput.value = '';
    if (files.length) void load(files);
  });
  dropzone.addEventListener('dragover', (e) => {
    e.preventDefault();
    dropzone.classList.add('over');
  });
  dropzone.addEventListener('dragleave', () => dropzone.classList.remove('over'));
  dropzone.addEventListener('drop', (e) => {
    e.preventDefault();
    dropzone.classList.remove('over');
    const files = [...(e.dataTransfer?.files ?? [])];
    if (files.length) void load(files);
  });
  defaultButton.addEventListener('click', () => void load('default'));

  const debug: ImagesDebug = {
    get seed() {
      return gridSeed;
    },
    get generator() {
      return gan?.name;
    },
    get frame() {
      return frame;
    },
    get frames() {
      return walk?.count ?? 0;
    },
    get walkFrom() {
      return walk?.index;
    },
    get walk3dState() {
      return walk3d.state;
    },
    get walk3dPresent() {
      return walk3d.presentMode;
    },
    get walk3dDevices() {
      return walk3d.devices;
    },
    points() {
      const r = walk3d.canvas.getBoundingClientRect();
      const p = walk3d.project();
      return Array.from({ length: p.length / 3 }, (_, i) => ({ x: r.left + p[i * 3], y: r.top + p[i * 3 + 1] }));
    },
    loseWalk3dDevice() {
      walk3d.simulateDeviceLoss();
    },
    render3d() {
      return walk3d.draw();
    },
  };
  Object.defineProperty(window, '__demoImages', { value: Object.freeze(debug), configurable: true });

  const dispose = () => {
    setPlaying(false);
    walk3d.destroy();
  };
  // a page leaving for good (not into the back/forward cache, whence it may come back) lets its device go
  window.addEventListener('pagehide', (e) => {
    if (!e.persisted) dispose();
  });

  const tab = {
    shown(): void {
      if (!started) {
        started = true;
        // the 3-D view's device comes after the engine's (see showGrid): in some browsers a first
        // present that fails upsets the GPU process, and an adapter asked for just then is refused
        if (!app.generator.value) void load('default');
      }
      walk3d.requestDraw();
      if (playing) setPlaying(true);
    },
    /** Stops the animation and releases the 3-D view's GPU device (when the page goes away). */
    dispose,
  };
  return tab;
}

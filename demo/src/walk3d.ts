// The latent walk in 3-D: the frames' latents projected on their three principal directions (see
// images_pca.ts), drawn by a small WebGPU render pipeline of this page's own (not the engine's worker
// device): the path as a line strip, the frames as instanced round quads (the current one in white),
// and the three axes. Dragging rotates the view; a click picks the nearest frame on screen, found on
// the CPU with the same matrices the vertex shader uses. The device is the view's alone: a lost one is
// replaced (a few times), and destroy() releases it.
//
// Two ways to show the picture: a 'webgpu' canvas context (the usual one), or 'copy': the same passes
// render into a texture that is copied back and put on a 2-D canvas. 'copy' is for browsers that cannot
// present a WebGPU canvas: headless Chromium on SwiftShader loses the device at the first present (no
// shared-image backing for the swap chain), and the GPU process' hiccup clears the page's 2-D canvases
// and refuses adapters for a moment. A software adapter starts in 'copy'; a device lost soon after its
// first present switches to it.
import { mat4, vec4, type Mat4 } from 'wgpu-matrix';

const SAMPLES = 4;
/** The view's background (linear-ish sRGB, 0..1), also the colour depth fades towards. */
const BACKGROUND = [0.067, 0.082, 0.11] as const;
const AXIS_COLORS = [
  [0.93, 0.42, 0.42],
  [0.45, 0.85, 0.5],
  [0.45, 0.65, 1.0],
] as const;
/** Floats per line vertex (position, colour) and per point instance (centre, colour, size in pixels). */
const LINE_FLOATS = 7;
const POINT_FLOATS = 8;
/** A click that moved less than this (CSS px) picks; more is a drag. */
const CLICK_SLOP = 5;
/** The farthest (CSS px) a click may be from a point and still pick it. */
const PICK_RADIUS = 18;
/** A device lost this soon (ms) after its first present is taken for a browser that cannot present one. */
const PRESENT_GRACE = 5000;

const SHADER = /* wgsl */ `
struct View {
  viewProj: mat4x4f,
  viewport: vec2f,  // the target's size in pixels
  fog: vec2f,       // view depths where fading towards the background starts and ends
  background: vec4f,
};
@group(0) @binding(0) var<uniform> view: View;

fn fade(color: vec3f, w: f32) -> vec3f {
  let t = clamp((w - view.fog.x) / (view.fog.y - view.fog.x), 0.0, 1.0);
  return mix(color, view.background.rgb, 0.6 * t);
}

struct LineOut {
  @builtin(position) pos: vec4f,
  @location(0) color: vec4f,
};

@vertex fn lineVs(@location(0) p: vec3f, @location(1) color: vec4f) -> LineOut {
  var o: LineOut;
  o.pos = view.viewProj * vec4f(p, 1.0);
  o.color = vec4f(fade(color.rgb, o.pos.w), 1.0);
  return o;
}

@fragment fn lineFs(i: LineOut) -> @location(0) vec4f {
  return i.color;
}

struct PointOut {
  @builtin(position) pos: vec4f,
  @location(0) color: vec4f,
  @location(1) corner: vec2f,
};

// one quad per instance, as a 4-vertex triangle strip, facing the camera, size pixels across
@vertex fn pointVs(
  @builtin(vertex_index) v: u32,
  @location(0) center: vec3f,
  @location(1) color: vec4f,
  @location(2) size: f32,
) -> PointOut {
  let corner = vec2f(f32(v & 1u), f32(v >> 1u)) * 2.0 - 1.0;
  let c = view.viewProj * vec4f(center, 1.0);
  var o: PointOut;
  o.pos = c + vec4f(corner * size / view.viewport * c.w, 0.0, 0.0);
  o.color = vec4f(fade(color.rgb, c.w), color.a);
  o.corner = corner;
  return o;
}

// a round dot with a dark rim; the alpha becomes coverage (alpha to coverage), so the edge is smooth
@fragment fn pointFs(i: PointOut) -> @location(0) vec4f {
  let r = length(i.corner);
  let rim = smoothstep(0.62, 0.72, r);
  let rgb = mix(i.color.rgb, i.color.rgb * 0.35, rim * i.color.a);
  return vec4f(rgb, 1.0 - smoothstep(0.9, 1.0, r));
}
`;

/** A CPU implementation of WebGPU (SwiftShader and the like). */
function isSoftware(adapter: GPUAdapter): boolean {
  const i = adapter.info;
  return (
    !!i?.isFallbackAdapter ||
    /swiftshader|llvmpipe|lavapipe|software/i.test(`${i?.vendor} ${i?.architecture} ${i?.device} ${i?.description}`)
  );
}

export interface Walk3DOptions {
  /** A click on a point: that frame's index. */
  onPick(index: number): void;
  /** A line for the page about the view (device lost, restarted, failed). */
  onStatus?(text: string): void;
  /** Called whenever the view's state changes. */
  onState?(state: Walk3DState): void;
  /** An element over the canvas for the axis labels (positioned absolutely, in CSS px). */
  labels?: HTMLElement;
}

export type Walk3DState = 'idle' | 'starting' | 'ready' | 'lost' | 'failed' | 'destroyed';

/** How the picture reaches the page: a WebGPU canvas context, or a texture copied onto a 2-D canvas. */
export type PresentMode = 'canvas' | 'copy';

interface Gpu {
  /** Held with the device: nothing it needs goes away while it is in use. */
  adapter: GPUAdapter;
  device: GPUDevice;
  mode: PresentMode;
  /** 'canvas': the canvas' WebGPU context; 'copy': the 2-D context the picture is put on. */
  context?: GPUCanvasContext;
  context2d?: CanvasRenderingContext2D;
  format: GPUTextureFormat;
  /** 'copy': the resolved picture and the buffer it is read back through (rows padded to 256 bytes). */
  target?: GPUTexture;
  readback?: GPUBuffer;
  reading?: Promise<void>;
  /** When the first frame was presented (performance.now()), for telling a browser that cannot present. */
  firstPresent?: number;
  lines: GPURenderPipeline;
  points: GPURenderPipeline;
  uniforms: GPUBuffer;
  bindGroup: GPUBindGroup;
  lineBuffer?: GPUBuffer;
  pointBuffer?: GPUBuffer;
  msaa?: GPUTexture;
}

export class Walk3D {
  private gpu?: Gpu;
  private starting?: Promise<void>;
  private restarts = 0;
  private opened = 0;
  private stateValue: Walk3DState = 'idle';
  private mode: PresentMode;
  private canvasEl: HTMLCanvasElement;
  /** A draw was asked for while the last picture was still being read back. */
  private redraw = false;
  /** [n, 3] positions (unit radius), colours [n, 3], and which frames start a segment. */
  private points: Float32Array = new Float32Array(0);
  private colors: Float32Array = new Float32Array(0);
  private keyframe = new Set<number>();
  private closed = false;
  private axisNames: string[] = ['PC1', 'PC2', 'PC3'];
  private current = -1;
  private yaw = 0.7;
  private pitch = 0.4;
  private distance = 4.2;
  private drawPending = 0;
  private readonly resize: ResizeObserver;
  private readonly labelEls: HTMLElement[] = [];

  constructor(
    canvas: HTMLCanvasElement,
    private readonly options: Walk3DOptions & { present?: PresentMode },
  ) {
    this.canvasEl = canvas;
    this.mode = options.present ?? 'canvas';
    this.resize = new ResizeObserver(() => this.requestDraw());
    this.attach(canvas);
    if (options.labels) {
      for (let a = 0; a < 3; a++) {
        const el = document.createElement('span');
        el.className = `walk3d-axis walk3d-axis-${a + 1}`;
        el.hidden = true;
        options.labels.append(el);
        this.labelEls.push(el);
      }
    }
  }

  get state(): Walk3DState {
    return this.stateValue;
  }

  /** The canvas the view draws on (a new element after a switch to 'copy', with the same attributes). */
  get canvas(): HTMLCanvasElement {
    return this.canvasEl;
  }

  get presentMode(): PresentMode {
    return this.mode;
  }

  /** How many devices this view has had (more than one after a loss). */
  get devices(): number {
    return this.opened;
  }

  private attach(c: HTMLCanvasElement): void {
    c.dataset.present = this.mode;
    this.resize.observe(c);
    this.listen(c);
  }

  /** A canvas has one kind of context for good: 'copy' needs a fresh element in the old one's place. */
  private replaceCanvas(): void {
    const old = this.canvasEl;
    const c = old.cloneNode(false) as HTMLCanvasElement;
    const focused = document.activeElement === old;
    this.resize.unobserve(old);
    old.replaceWith(c);
    this.canvasEl = c;
    this.attach(c);
    if (focused) c.focus();
  }

  private setState(s: Walk3DState): void {
    this.stateValue = s;
    this.options.onState?.(s);
  }

  /** Gets this view's own GPU device (once; again after a loss). Never rejects: failures go to onStatus. */
  start(): Promise<void> {
    if (this.gpu || this.stateValue === 'destroyed') return Promise.resolve();
    this.starting ??= this.open()
      .catch((e: unknown) => {
        this.setState('failed');
        this.options.onStatus?.(`The 3-D view has no WebGPU device: ${e instanceof Error ? e.message : String(e)}`);
      })
      .finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async open(): Promise<void> {
    this.setState('starting');
    if (!navigator.gpu) throw new Error('this browser has no navigator.gpu');
    // right after a loss the browser may have no adapter for a moment (its GPU process restarting)
    let adapter: GPUAdapter | null = null;
    for (let wait = 250; ; wait *= 2) {
      adapter = await navigator.gpu.requestAdapter();
      if (adapter || wait > 4000 || this.stateValue === 'destroyed') break;
      await new Promise((r) => setTimeout(r, wait));
    }
    if (!adapter) throw new Error('no GPU adapter was found');
    // a software adapter (SwiftShader) goes with software compositing, which may have no way to show a
    // WebGPU canvas: its first present loses the device and upsets the GPU process (clearing 2-D canvases)
    if (!this.options.present && this.mode === 'canvas' && isSoftware(adapter)) this.mode = 'copy';
    const device = await adapter.requestDevice({ label: 'walk3d' });
    if (this.stateValue === 'destroyed') {
      device.destroy();
      return;
    }
    device.lost.then((info) => this.onLost(device, info));
    device.addEventListener('uncapturederror', (e) => this.options.onStatus?.(`3-D view: ${(e as GPUUncapturedErrorEvent).error.message}`));
    if (this.mode === 'copy' && this.canvasEl.dataset.context === 'webgpu') this.replaceCanvas();
    this.gpu = this.setup(adapter, device);
    this.opened++;
    this.setState('ready');
    this.requestDraw();
  }

  private onLost(device: GPUDevice, info: GPUDeviceLostInfo): void {
    const g = this.gpu;
    if (g?.device !== device) return;
    this.gpu = undefined;
    g.context2d?.clearRect(0, 0, this.canvasEl.width, this.canvasEl.height); // no stale picture
    // destroy() is the only place this view destroys its device: any other loss is unexpected
    if (this.stateValue === 'destroyed') return;
    this.setState('lost');
    if (g.mode === 'canvas' && g.firstPresent !== undefined && performance.now() - g.firstPresent < PRESENT_GRACE) {
      this.mode = 'copy';
      this.options.onStatus?.(
        'This browser could not show a WebGPU canvas; the 3-D view starts again, copying its pictures to a 2-D canvas.',
      );
      void this.start();
      return;
    }
    if (this.restarts >= 3) {
      this.options.onStatus?.(
        `The 3-D view lost its GPU device (${info.message || info.reason}) too often; reload the page to see it again.`,
      );
      return;
    }
    this.restarts++;
    this.options.onStatus?.(`The 3-D view lost its GPU device (${info.message || info.reason}); it starts a new one.`);
    void this.start();
  }

  private setup(adapter: GPUAdapter, device: GPUDevice): Gpu {
    const mode = this.mode;
    let context: GPUCanvasContext | undefined;
    let context2d: CanvasRenderingContext2D | undefined;
    let format: GPUTextureFormat;
    this.canvasEl.dataset.present = mode;
    if (mode === 'canvas') {
      context = this.canvasEl.getContext('webgpu') ?? undefined;
      if (!context) throw new Error('the canvas gave no webgpu context');
      this.canvasEl.dataset.context = 'webgpu';
      format = navigator.gpu.getPreferredCanvasFormat();
      context.configure({ device, format, alphaMode: 'opaque' });
    } else {
      context2d = this.canvasEl.getContext('2d') ?? undefined;
      if (!context2d) throw new Error('the canvas gave no 2d context');
      this.canvasEl.dataset.context = '2d';
      format = 'rgba8unorm';
    }
    const module = device.createShaderModule({ code: SHADER, label: 'walk3d' });
    const bindLayout = device.createBindGroupLayout({
      entries: [{ binding: 0, visibility: GPUShaderStage.VERTEX | GPUShaderStage.FRAGMENT, buffer: {} }],
    });
    const layout = device.createPipelineLayout({ bindGroupLayouts: [bindLayout] });
    const lines = device.createRenderPipeline({
      label: 'walk3d lines',
      layout,
      vertex: {
        module,
        entryPoint: 'lineVs',
        buffers: [
          {
            arrayStride: LINE_FLOATS * 4,
            attributes: [
              { shaderLocation: 0, offset: 0, format: 'float32x3' },
              { shaderLocation: 1, offset: 12, format: 'float32x4' },
            ],
          },
        ],
      },
      fragment: { module, entryPoint: 'lineFs', targets: [{ format }] },
      primitive: { topology: 'line-strip' },
      multisample: { count: SAMPLES },
    });
    const points = device.createRenderPipeline({
      label: 'walk3d points',
      layout,
      vertex: {
        module,
        entryPoint: 'pointVs',
        buffers: [
          {
            arrayStride: POINT_FLOATS * 4,
            stepMode: 'instance',
            attributes: [
              { shaderLocation: 0, offset: 0, format: 'float32x3' },
              { shaderLocation: 1, offset: 12, format: 'float32x4' },
              { shaderLocation: 2, offset: 28, format: 'float32' },
            ],
          },
        ],
      },
      fragment: { module, entryPoint: 'pointFs', targets: [{ format }] },
      primitive: { topology: 'triangle-strip' },
      multisample: { count: SAMPLES, alphaToCoverageEnabled: true },
    });
    const uniforms = device.createBuffer({ label: 'walk3d view', size: 96, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const bindGroup = device.createBindGroup({ layout: bindLayout, entries: [{ binding: 0, resource: { buffer: uniforms } }] });
    return { adapter, device, mode, context, context2d, format, lines, points, uniforms, bindGroup };
  }

  /**
   * The path to show: `points` [n, 3] (any scale: it is fitted to the view), a colour per frame
   * [n, 3], the frames that are keyframes, and whether the path loops back to its start.
   */
  setPath(points: Float32Array, colors: Float32Array, o: { keyframes?: number[]; closed?: boolean; axes?: string[] } = {}): void {
    this.points = points;
    this.colors = colors;
    this.keyframe = new Set(o.keyframes ?? []);
    this.closed = o.closed ?? false;
    this.axisNames = o.axes ?? ['PC1', 'PC2', 'PC3'];
    this.current = -1;
    this.requestDraw();
  }

  get count(): number {
    return this.points.length / 3;
  }

  setCurrent(index: number): void {
    if (index === this.current) return;
    this.current = index;
    this.requestDraw();
  }

  /** Camera: yaw and pitch (radians) around the origin, at `distance`. */
  rotate(dyaw: number, dpitch: number): void {
    this.yaw += dyaw;
    this.pitch = Math.max(-1.45, Math.min(1.45, this.pitch + dpitch));
    this.requestDraw();
  }

  /** The matrix both the shader and picking use, for a target of this aspect ratio. */
  viewProjection(aspect: number): Mat4 {
    const { yaw, pitch, distance: d } = this;
    const eye = [d * Math.cos(pitch) * Math.sin(yaw), d * Math.sin(pitch), d * Math.cos(pitch) * Math.cos(yaw)];
    const proj = mat4.perspective((38 * Math.PI) / 180, aspect, 0.1, 50);
    return mat4.multiply(proj, mat4.lookAt(eye, [0, 0, 0], [0, 1, 0]));
  }

  /** Each frame's point in CSS pixels from the canvas' top-left corner, and its view depth: [n, 3]. */
  project(): Float32Array {
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    const n = this.count;
    const out = new Float32Array(n * 3);
    if (!w || !h) return out;
    const m = this.viewProjection(w / h);
    const c = vec4.create();
    for (let i = 0; i < n; i++) {
      vec4.transformMat4([this.points[i * 3], this.points[i * 3 + 1], this.points[i * 3 + 2], 1], m, c);
      out[i * 3] = ((c[0] / c[3] + 1) / 2) * w;
      out[i * 3 + 1] = ((1 - c[1] / c[3]) / 2) * h;
      out[i * 3 + 2] = c[3];
    }
    return out;
  }

  /** The frame nearest to a point (CSS px from the canvas' corner), or -1 when none is within reach. */
  pick(x: number, y: number): number {
    const p = this.project();
    let best = -1;
    let bestD = PICK_RADIUS;
    for (let i = 0; i < this.count; i++) {
      const d = Math.hypot(p[i * 3] - x, p[i * 3 + 1] - y);
      // on a tie the nearer to the camera wins
      if (d < bestD - 1e-6 || (best >= 0 && Math.abs(d - bestD) <= 1e-6 && p[i * 3 + 2] < p[best * 3 + 2])) {
        best = i;
        bestD = d;
      }
    }
    return best;
  }

  private listen(c: HTMLCanvasElement): void {
    let drag: { id: number; x: number; y: number; moved: number } | undefined;
    c.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      c.setPointerCapture(e.pointerId);
      drag = { id: e.pointerId, x: e.clientX, y: e.clientY, moved: 0 };
    });
    c.addEventListener('pointermove', (e) => {
      if (!drag || e.pointerId !== drag.id) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      drag.x = e.clientX;
      drag.y = e.clientY;
      drag.moved += Math.abs(dx) + Math.abs(dy);
      if (drag.moved >= CLICK_SLOP) this.rotate(-dx * 0.01, dy * 0.01);
    });
    const end = (e: PointerEvent, cancelled: boolean) => {
      if (!drag || e.pointerId !== drag.id) return;
      const click = !cancelled && drag.moved < CLICK_SLOP;
      drag = undefined;
      if (!click) return;
      const r = c.getBoundingClientRect();
      const i = this.pick(e.clientX - r.left, e.clientY - r.top);
      if (i >= 0) this.options.onPick(i);
    };
    c.addEventListener('pointerup', (e) => end(e, false));
    c.addEventListener('pointercancel', (e) => end(e, true));
    c.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        this.distance = Math.max(1.8, Math.min(8, this.distance * Math.exp(e.deltaY * 0.001)));
        this.requestDraw();
      },
      { passive: false },
    );
    c.addEventListener('keydown', (e) => {
      const step = 0.15;
      const moves: Record<string, [number, number]> = {
        ArrowLeft: [step, 0],
        ArrowRight: [-step, 0],
        ArrowUp: [0, step],
        ArrowDown: [0, -step],
      };
      const m = moves[e.key];
      if (m) {
        e.preventDefault();
        this.rotate(m[0], m[1]);
      } else if (e.key === '+' || e.key === '=' || e.key === '-') {
        e.preventDefault();
        this.distance = Math.max(1.8, Math.min(8, this.distance * (e.key === '-' ? 1.15 : 1 / 1.15)));
        this.requestDraw();
      }
    });
  }

  /** Draws on the next animation frame (several requests in one frame draw once). */
  requestDraw(): void {
    if (this.drawPending || this.stateValue === 'destroyed') return;
    this.drawPending = requestAnimationFrame(() => {
      this.drawPending = 0;
      this.draw();
    });
  }

  /**
   * Draws now. 'canvas': the canvas holds the picture until the page presents it; 'copy': the returned
   * promise settles once the picture is on the 2-D canvas.
   */
  draw(): Promise<void> {
    this.placeLabels();
    const g = this.gpu;
    const canvas = this.canvasEl;
    const cw = canvas.clientWidth;
    const ch = canvas.clientHeight;
    if (!g || !cw || !ch) return Promise.resolve();
    if (g.reading) {
      // one read-back at a time: draw again when it is done
      this.redraw = true;
      return g.reading;
    }
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(cw * dpr));
    const h = Math.max(1, Math.round(ch * dpr));
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    const { device } = g;
    if (!g.msaa || g.msaa.width !== w || g.msaa.height !== h) {
      g.msaa?.destroy();
      g.msaa = device.createTexture({
        label: 'walk3d msaa',
        size: [w, h],
        format: g.format,
        sampleCount: SAMPLES,
        usage: GPUTextureUsage.RENDER_ATTACHMENT,
      });
    }
    const bytesPerRow = Math.ceil((w * 4) / 256) * 256;
    if (g.mode === 'copy' && (!g.target || g.target.width !== w || g.target.height !== h)) {
      g.target?.destroy();
      g.readback?.destroy();
      const usage = GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.COPY_SRC;
      g.target = device.createTexture({ label: 'walk3d picture', size: [w, h], format: g.format, usage });
      g.readback = device.createBuffer({
        label: 'walk3d readback',
        size: bytesPerRow * h,
        usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
      });
    }
    const u = new Float32Array(24);
    u.set(this.viewProjection(w / h), 0);
    u.set([w, h, this.distance - 1, this.distance + 1], 16);
    u.set([...BACKGROUND, 1], 20);
    device.queue.writeBuffer(g.uniforms, 0, u);

    // the path (closed: back to frame 0), then the three axes, as line strips of one buffer
    const n = this.count;
    const pathVerts = n === 0 ? 0 : n + (this.closed ? 1 : 0);
    const lines = new Float32Array((pathVerts + 6) * LINE_FLOATS);
    for (let v = 0; v < pathVerts; v++) {
      const i = v % n;
      lines.set(
        [this.points[i * 3], this.points[i * 3 + 1], this.points[i * 3 + 2], ...this.colors.subarray(i * 3, i * 3 + 3), 1],
        v * LINE_FLOATS,
      );
    }
    for (let a = 0; a < 3; a++) {
      const tip = [0, 0, 0];
      tip[a] = 1.15;
      const col = AXIS_COLORS[a].map((x) => x * 0.7);
      lines.set([0, 0, 0, ...col, 1], (pathVerts + 2 * a) * LINE_FLOATS);
      lines.set([...tip, ...col, 1], (pathVerts + 2 * a + 1) * LINE_FLOATS);
    }
    g.lineBuffer = this.upload(g, g.lineBuffer, lines, 'walk3d lines');

    // the frames, far to near (painter's order), the current one last and larger
    const depth = this.project();
    const order = Array.from({ length: n }, (_, i) => i)
      .filter((i) => i !== this.current)
      .sort((a, b) => depth[b * 3 + 2] - depth[a * 3 + 2]);
    if (this.current >= 0 && this.current < n) order.push(this.current);
    const pts = new Float32Array(Math.max(1, order.length) * POINT_FLOATS);
    order.forEach((i, k) => {
      const cur = i === this.current;
      const size = (cur ? 15 : this.keyframe.has(i) ? 10 : 6.5) * dpr;
      const rgb = cur ? [1, 1, 1] : this.colors.subarray(i * 3, i * 3 + 3);
      pts.set([this.points[i * 3], this.points[i * 3 + 1], this.points[i * 3 + 2], ...rgb, cur ? 0.8 : 1, size], k * POINT_FLOATS);
    });
    g.pointBuffer = this.upload(g, g.pointBuffer, pts, 'walk3d points');

    const target = g.mode === 'canvas' ? g.context!.getCurrentTexture() : g.target!;
    const encoder = device.createCommandEncoder({ label: 'walk3d' });
    const pass = encoder.beginRenderPass({
      colorAttachments: [
        {
          view: g.msaa.createView(),
          resolveTarget: target.createView(),
          clearValue: [...BACKGROUND, 1],
          loadOp: 'clear',
          storeOp: 'discard',
        },
      ],
    });
    pass.setBindGroup(0, g.bindGroup);
    pass.setPipeline(g.lines);
    pass.setVertexBuffer(0, g.lineBuffer);
    for (let a = 0; a < 3; a++) pass.draw(2, 1, pathVerts + 2 * a);
    if (pathVerts > 1) pass.draw(pathVerts);
    if (order.length) {
      pass.setPipeline(g.points);
      pass.setVertexBuffer(0, g.pointBuffer);
      pass.draw(4, order.length);
    }
    pass.end();
    if (g.mode === 'copy') encoder.copyTextureToBuffer({ texture: target }, { buffer: g.readback!, bytesPerRow }, [w, h]);
    device.queue.submit([encoder.finish()]);
    g.firstPresent ??= performance.now();
    if (g.mode === 'canvas') return Promise.resolve();
    const readback = g.readback!;
    g.reading = (async () => {
      await readback.mapAsync(GPUMapMode.READ);
      const src = new Uint8Array(readback.getMappedRange());
      const img = new ImageData(w, h);
      for (let y = 0; y < h; y++) img.data.set(src.subarray(y * bytesPerRow, y * bytesPerRow + w * 4), y * w * 4);
      readback.unmap();
      // opaque, as a canvas configured with alphaMode 'opaque' shows it (the dots' edges wrote coverage as alpha)
      for (let i = 3; i < img.data.length; i += 4) img.data[i] = 255;
      if (this.gpu === g && canvas === this.canvasEl && canvas.width === w && canvas.height === h) g.context2d!.putImageData(img, 0, 0);
    })()
      .catch(() => undefined) // a lost device: onLost tells
      .finally(() => {
        g.reading = undefined;
        if (this.redraw) {
          this.redraw = false;
          this.requestDraw();
        }
      });
    return g.reading;
  }

  /** Writes `data` to `buffer`, first growing it (a new buffer) when it is too small. */
  private upload(g: Gpu, buffer: GPUBuffer | undefined, data: Float32Array<ArrayBuffer>, label: string): GPUBuffer {
    if (!buffer || buffer.size < data.byteLength) {
      buffer?.destroy();
      const size = Math.max(256, 2 ** Math.ceil(Math.log2(data.byteLength)));
      buffer = g.device.createBuffer({ label, size, usage: GPUBufferUsage.VERTEX | GPUBufferUsage.COPY_DST });
    }
    g.device.queue.writeBuffer(buffer, 0, data);
    return buffer;
  }

  /** The axis names beside the axes' tips (HTML over the canvas, so they stay crisp). */
  private placeLabels(): void {
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    if (!this.labelEls.length || !w || !h) return;
    const m = this.viewProjection(w / h);
    const c = vec4.create();
    this.labelEls.forEach((el, a) => {
      const tip = [0, 0, 0, 1];
      tip[a] = 1.28;
      vec4.transformMat4(tip, m, c);
      el.hidden = this.count === 0 || c[3] <= 0;
      el.textContent = this.axisNames[a] ?? '';
      // kept inside the view (the labels are centred on their point)
      const half = (el.offsetWidth || 40) / 2 + 2;
      el.style.left = `${Math.max(half, Math.min(w - half, ((c[0] / c[3] + 1) / 2) * w))}px`;
      el.style.top = `${Math.max(9, Math.min(h - 9, ((1 - c[1] / c[3]) / 2) * h))}px`;
    });
  }

  /** Loses the device on purpose (for tests of the recovery): to this view, a loss like any other. */
  simulateDeviceLoss(): void {
    this.gpu?.device.destroy();
  }

  /** Releases the device; the view draws nothing after. */
  destroy(): void {
    if (this.stateValue === 'destroyed') return;
    this.setState('destroyed');
    this.resize.disconnect();
    if (this.drawPending) cancelAnimationFrame(this.drawPending);
    const g = this.gpu;
    this.gpu = undefined;
    if (g) {
      g.context?.unconfigure();
      g.device.destroy();
    }
  }
}

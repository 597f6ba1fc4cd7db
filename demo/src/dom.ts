// A few DOM helpers: the page builds its controls in code (no inline scripts or HTML strings, so it
// runs under a strict Content-Security-Policy), every control with a label.

type Attrs = Record<string, string | number | boolean | undefined>;
type Child = Node | string | null | undefined | false;

/** An element with attributes (false/undefined ones left out) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** A labelled control: <label>text <control></label>. */
export function labelled(text: string, control: HTMLElement, title?: string): HTMLLabelElement {
  return h('label', { title }, text, control);
}

/** A number input. */
export function numberInput(id: string, value: number, o: { min?: number; max?: number; step?: number | 'any' } = {}): HTMLInputElement {
  return h('input', { id, type: 'number', value, min: o.min, max: o.max, step: o.step ?? 1 });
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** An error as one line: its class name (when typed) and message. */
export function errorText(e: unknown): string {
  if (e instanceof Error || (typeof DOMException !== 'undefined' && e instanceof DOMException)) {
    return e.name && e.name !== 'Error' ? `${e.name}: ${e.message}` : e.message;
  }
  return String(e);
}

/** A value that tabs share (the current GPT-2, the current generator), with change listeners. */
export class Slot<T> {
  private current: T | undefined;
  private readonly listeners = new Set<(v: T | undefined) => void>();

  get value(): T | undefined {
    return this.current;
  }

  set(v: T | undefined): void {
    this.current = v;
    for (const f of this.listeners) f(v);
  }

  /** Calls `f` now (if set) and on every change. */
  watch(f: (v: T | undefined) => void): void {
    this.listeners.add(f);
    if (this.current !== undefined) f(this.current);
  }
}

// How a [batch, c, h, w] activation lies in a buffer: any element strides, so one kernel reads NCHW
// or NHWC and writes either (a layout change costs no extra pass).
import type { Tensor } from '../runtime/tensor.js';

/** Element strides of (n, c, y, x) in a buffer. */
export type Strides4 = readonly [number, number, number, number];

export interface View4 {
  readonly batch: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly strides: Strides4;
}

export function layoutStrides(layout: 'NCHW' | 'NHWC', c: number, h: number, w: number): Strides4 {
  return layout === 'NCHW' ? [c * h * w, h * w, w, 1] : [h * w * c, 1, w * c, c];
}

export function view4(batch: number, c: number, h: number, w: number, layout: 'NCHW' | 'NHWC'): View4 {
  return { batch, c, h, w, strides: layoutStrides(layout, c, h, w) };
}

/** One past the largest element index a view addresses. */
export function extent(v: View4): number {
  const [sn, sc, sy, sx] = v.strides;
  return (v.batch - 1) * sn + (v.c - 1) * sc + (v.h - 1) * sy + (v.w - 1) * sx + 1;
}

/** Checks that a view has positive whole sizes and stays inside its tensor. */
export function checkView(v: View4, t: Tensor, what: string, fail: (msg: string) => never): void {
  if (![v.batch, v.c, v.h, v.w].every((d) => Number.isInteger(d) && d >= 1)) fail(`bad ${what} view [${v.batch}, ${v.c}, ${v.h}, ${v.w}]`);
  if (!v.strides.every((s) => Number.isInteger(s) && s >= 0)) fail(`bad ${what} strides [${v.strides.join(', ')}]`);
  if (extent(v) > t.size) fail(`${what} view reaches element ${extent(v)} but "${t.label}" has ${t.size}`);
}

/** The input and output strides as Meta fields (the kernels' Meta structs end with these). */
export const VIEW_FIELDS = {
  in_sn: 'u32',
  in_sc: 'u32',
  in_sy: 'u32',
  in_sx: 'u32',
  out_sn: 'u32',
  out_sc: 'u32',
  out_sy: 'u32',
  out_sx: 'u32',
} as const;

export function viewStrides(xv: View4, yv: View4): { [K in keyof typeof VIEW_FIELDS]: number } {
  const [in_sn, in_sc, in_sy, in_sx] = xv.strides;
  const [out_sn, out_sc, out_sy, out_sx] = yv.strides;
  return { in_sn, in_sc, in_sy, in_sx, out_sn, out_sc, out_sy, out_sx };
}

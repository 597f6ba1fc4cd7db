// Transposed 2-D convolution as an implicit GEMM, tiled in registers, one output phase per
// workgroup z.
//
// y[n, co, oy, ox] = sum over (ci, ky, kx) with oy = iy*sh - ph + ky, ox = ix*sw - pw + kx of
//                    x[n, ci, iy, ix] * w[ky, kx, ci, co]
// For a stride s only the taps ky = (oy + ph) mod s (+ s, + 2s, ...) reach an output row, so the
// outputs split into s*s phases, each a plain convolution with ceil((k - phase) / s) taps per axis:
// per phase, M = batch * rows * cols of that phase, N = cout, K = taps_y * taps_x * cin, and no
// multiply is spent on the zeros a zero-inserted input would hold.
// Each invocation computes a 4-pixel x 4-channel block of one phase, reading its operands straight
// from memory: no workgroup memory and no barriers, which software adapters pay dearly for (on
// lavapipe and SwiftShader this beat a workgroup-tiled version by 2-10x; that one is gone).
// Tensors are addressed through element strides (n, c, y, x), so the same kernel reads a dense
// layer's output reshaped to NCHW or NHWC and writes either layout. The epilogue is
//   act2(act1(acc + bias[co]) * post[co] + post[cout + co])
// (bias and post optional), which holds a folded or unfolded batch norm and up to two activations.
override WG: u32 = 64;
const TM: u32 = 4u;

// What every conv_transpose2d path shares: the Meta (binding 0: sizes, padding, strides of x and y)
// and the tap arithmetic of a stride-s axis.
struct Meta { batch: u32, cin: u32, ih: u32, iw: u32, cout: u32, oh: u32, ow: u32, kh: u32, kw: u32, sh: u32, sw: u32, ph: i32, pw: i32, wcout: u32, in_sn: u32, in_sc: u32, in_sy: u32, in_sx: u32, out_sn: u32, out_sc: u32, out_sy: u32, out_sx: u32 }
@group(0) @binding(0) var<uniform> u: Meta;

// The first tap that reaches output o along an axis: (o + p) mod s.
fn first_tap(o: u32, s: u32, p: i32) -> u32 {
  var r = (i32(o) + p) % i32(s);
  if (r < 0) { r += i32(s); }
  return u32(r);
}

// One output phase along one axis: its first output, how many outputs and taps it has, and the
// input index of its first output's first tap.
struct Axis { o0: u32, count: u32, taps: u32, base: i32, phase: u32 }

fn axis(phase: u32, s: u32, p: i32, k: u32, out_len: u32) -> Axis {
  var r = (i32(phase) - p) % i32(s);
  if (r < 0) { r += i32(s); }
  let o0 = u32(r);
  var a: Axis;
  a.o0 = o0;
  a.phase = phase;
  a.count = select(0u, (out_len - o0 + s - 1u) / s, o0 < out_len);
  a.taps = select(0u, (k - phase + s - 1u) / s, phase < k);
  a.base = (i32(o0) + p - i32(phase)) / i32(s);  // exact: o0 + p = phase (mod s)
  return a;
}

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;      // [kh, kw, cin, cout]
// then bias [cout] (binding 3) if any, post [2, cout] (scale, shift; binding 4) if any, y (5); finish().
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> post: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
fn act1(x: f32) -> f32 { return select(x * 0.2, x, x >= 0.0); }
fn act2(x: f32) -> f32 { return x; }
fn finish(acc: f32, co: u32) -> f32 { return act2(fma(act1(acc + bias[co]), post[co], post[u.cout + co])); }


@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let ay = axis(wid.z / u.sw, u.sh, u.ph, u.kh, u.oh);
  let ax = axis(wid.z % u.sw, u.sw, u.pw, u.kw, u.ow);
  let mcount = u.batch * ay.count * ax.count;
  let groups = (u.cout + 3u) / 4u;
  let g = gid.x + gid.y * nwg.x * WG;
  let co0 = (g % groups) * 4u;  // neighbouring invocations: neighbouring channels, the same pixels
  let m0 = (g / groups) * TM;
  if (m0 >= mcount) { return; }

  var off: array<u32, 4>;
  var iy0: array<i32, 4>;
  var ix0: array<i32, 4>;
  for (var i = 0u; i < TM; i++) {
    let m = min(m0 + i, mcount - 1u);
    let q = m / ax.count;
    off[i] = (q / ay.count) * u.in_sn;
    iy0[i] = ay.base + i32(q % ay.count);
    ix0[i] = ax.base + i32(m % ax.count);
  }
  var acc: array<vec4f, 4>;
  let full = co0 + 4u <= u.cout;
  for (var ty = 0u; ty < ay.taps; ty++) {
    for (var tx = 0u; tx < ax.taps; tx++) {
      let wtap = ((ay.phase + ty * u.sh) * u.kw + ax.phase + tx * u.sw) * u.cin * u.cout + co0;
      var xo: array<u32, 4>;
      var ok: array<bool, 4>;
      for (var i = 0u; i < TM; i++) {
        let iy = iy0[i] - i32(ty);
        let ix = ix0[i] - i32(tx);
        ok[i] = iy >= 0 && ix >= 0 && iy < i32(u.ih) && ix < i32(u.iw);
        xo[i] = select(0u, off[i] + u32(iy) * u.in_sy + u32(ix) * u.in_sx, ok[i]);
      }
      if (!(ok[0] || ok[1] || ok[2] || ok[3])) { continue; }  // e.g. most taps of a 1x1 input
      for (var ci = 0u; ci < u.cin; ci++) {
        let wi = wtap + ci * u.cout;
        var wv: vec4f;
        if (full) {
          wv = vec4f(w[wi], w[wi + 1u], w[wi + 2u], w[wi + 3u]);
        } else {
          for (var j = 0u; j < 4u; j++) { wv[j] = select(0.0, w[min(wi + j, arrayLength(&w) - 1u)], co0 + j < u.cout); }
        }
        for (var i = 0u; i < TM; i++) {
          let xv = select(0.0, x[xo[i] + ci * u.in_sc], ok[i]);
          acc[i] = fma(vec4f(xv), wv, acc[i]);
        }
      }
    }
  }

  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= mcount) { break; }
    let ox = ax.o0 + (m % ax.count) * u.sw;
    let q = m / ax.count;
    let oy = ay.o0 + (q % ay.count) * u.sh;
    let base = (q / ay.count) * u.out_sn + oy * u.out_sy + ox * u.out_sx;
    for (var j = 0u; j < 4u; j++) {
      let co = co0 + j;
      if (co >= u.cout) { break; }
      y[base + co * u.out_sc] = finish(acc[i][j], co);
    }
  }
}

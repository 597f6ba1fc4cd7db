// conv_transpose2d's 'vec' path, the one 'auto' picks on software adapters (it began in bench/ as a
// competitor: 2.5-3.2x faster than the 'regs' path on the DCGAN layers in Chromium and 1.0-1.16x on
// lavapipe): no workgroup memory and no barrier, register-blocked. One invocation
// computes 4 or 8 (CG = 2) output channels (vec4s: neighbouring invocations read
// neighbouring vec4s of the weight [kh, kw, cin, wcout]) at TM output pixels of one row that share a
// phase (ox0, ox0 + sw, ...: the same taps reach all of them), so each weight load feeds TM pixels and
// each input value 4 or 8 channels. Only the taps that reach an output are visited (first_tap, step
// s), as in the phase-split GEMM.
// Same Meta, bindings and epilogue as regs.wgsl. The weight's channels (wcout) are a
// multiple of 4 (zero channels pad a cout that is not; outputs past cout are not written), so it is
// bound as array<vec4f> (one 16-byte load per 4 channels: on SwiftShader every load instruction is a
// gather over the SIMD lanes). X_VEC (an input with 4 contiguous, aligned channels: NHWC, cin % 4 == 0)
// binds x as array<vec4f> too.
override WG: u32 = 64;
const TM: u32 = 4u;
const CG: u32 = 2u; // groups of 4 output channels per invocation: 1 or 2

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

@group(0) @binding(1) var<storage, read> x: array<vec4f>;
fn x4(i: u32) -> vec4f { return x[i / 4u]; }
fn x1(i: u32) -> f32 { return x[i / 4u][i % 4u]; }
@group(0) @binding(2) var<storage, read> w: array<vec4f>;    // [kh, kw, cin, cout / 4]
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
fn act1(x: f32) -> f32 { return max(x, 0.0); }
fn act2(x: f32) -> f32 { return x; }
fn finish(acc: f32, co: u32) -> f32 { return act2(act1(acc)); }


fn w4(i: u32) -> vec4f { return w[i / 4u]; } // i % 4 == 0

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let c4 = u.wcout / (4u * CG);
  let perPhase = (u.ow + u.sw - 1u) / u.sw;          // outputs of the longest phase of a row
  let qx = u.sw * ((perPhase + TM - 1u) / TM);       // pixel groups per output row
  let idx = (wid.x + wid.y * nwg.x) * WG + lid;
  if (idx >= u.batch * u.oh * qx * c4) { return; }
  let co = (idx % c4) * 4u * CG;                      // channels fastest: neighbours read neighbouring weights
  var r = idx / c4;
  let q = r % qx;
  r /= qx;
  let oy = r % u.oh;
  let n = r / u.oh;
  let ox0 = q % u.sw + (q / u.sw) * TM * u.sw;      // the group's first pixel; the others at + j*sw
  if (ox0 >= u.ow) { return; }

  var acc: array<vec4f, TM>;  // channels co..co+3
  var acc2: array<vec4f, TM>; // channels co+4..co+7 (CG == 2)
  for (var ky = first_tap(oy, u.sh, u.ph); ky < u.kh; ky += u.sh) {
    let iy = (i32(oy) + u.ph - i32(ky)) / i32(u.sh);
    if (iy < 0 || iy >= i32(u.ih)) { continue; }
    for (var kx = first_tap(ox0, u.sw, u.pw); kx < u.kw; kx += u.sw) {
      let ix0 = (i32(ox0) + u.pw - i32(kx)) / i32(u.sw); // pixel j reads ix0 + j
      var xb: array<u32, TM>;
      var m: array<f32, TM>;  // 0 for a pixel past the row or an input column outside the image
      for (var j = 0u; j < TM; j++) {
        let ix = ix0 + i32(j);
        let ok = ix >= 0 && ix < i32(u.iw) && ox0 + j * u.sw < u.ow;
        m[j] = select(0.0, 1.0, ok);
        xb[j] = n * u.in_sn + u32(iy) * u.in_sy + u32(clamp(ix, 0, i32(u.iw) - 1)) * u.in_sx;
      }
      let wt = (ky * u.kw + kx) * u.cin * u.wcout + co;
      let c4in = u.cin & ~3u;
      var ci = 0u;
      for (; ci < c4in; ci += 4u) {
        let wi = wt + ci * u.wcout;
        let w0 = w4(wi);
        let w1 = w4(wi + u.wcout);
        let w2 = w4(wi + 2u * u.wcout);
        let w3 = w4(wi + 3u * u.wcout);
        var v0 = vec4f(); var v1 = vec4f(); var v2 = vec4f(); var v3 = vec4f();
        if (CG == 2u) {
          v0 = w4(wi + 4u);
          v1 = w4(wi + u.wcout + 4u);
          v2 = w4(wi + 2u * u.wcout + 4u);
          v3 = w4(wi + 3u * u.wcout + 4u);
        }
        for (var j = 0u; j < TM; j++) {
          let xv = x4(xb[j] + ci * u.in_sc) * m[j];
          acc[j] += xv.x * w0 + xv.y * w1 + xv.z * w2 + xv.w * w3;
          if (CG == 2u) { acc2[j] += xv.x * v0 + xv.y * v1 + xv.z * v2 + xv.w * v3; }
        }
      }
      for (; ci < u.cin; ci++) {
        let wv = w4(wt + ci * u.wcout);
        var vv = vec4f();
        if (CG == 2u) { vv = w4(wt + ci * u.wcout + 4u); }
        for (var j = 0u; j < TM; j++) {
          let xs = x1(xb[j] + ci * u.in_sc) * m[j];
          acc[j] += xs * wv;
          if (CG == 2u) { acc2[j] += xs * vv; }
        }
      }
    }
  }
  for (var j = 0u; j < TM; j++) {
    let ox = ox0 + j * u.sw;
    if (ox >= u.ow) { break; }
    let base = n * u.out_sn + oy * u.out_sy + ox * u.out_sx;
    for (var e = 0u; e < 4u; e++) {
      if (co + e < u.cout) { y[base + (co + e) * u.out_sc] = finish(acc[j][e], co + e); }
      if (CG == 2u && co + 4u + e < u.cout) { y[base + (co + 4u + e) * u.out_sc] = finish(acc2[j][e], co + 4u + e); }
    }
  }
}

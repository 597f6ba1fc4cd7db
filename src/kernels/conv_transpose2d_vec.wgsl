// conv_transpose2d's 'vec' path, the fastest on SwiftShader (moved here from bench/, where it ran the
// 64x64 DCGAN's stride-2 layers 1.3-3x faster than the 'regs' path in Chromium; on lavapipe 'regs' wins
// by 1.1-1.25x, so 'auto' picks per adapter): no workgroup memory and no barrier, register-blocked.
// One invocation computes 4 output channels (a vec4: the weight [kh, kw, cin, cout] is read 16
// contiguous bytes at a time, neighbouring invocations reading neighbouring vec4s) at TM output
// pixels of one row that share a phase (ox0, ox0 + sw, ...: the same taps reach all of them), so
// each weight load feeds TM pixels and each input value feeds 4 channels. Only the taps that reach
// an output are visited (first_tap, step s), as in the phase-split GEMM.
// Same Meta, bindings and epilogue as conv_transpose2d.wgsl; needs cout % 4 == 0.
override WG: u32 = 64;
const TM: u32 = {{TM}};

struct Meta {
  batch: u32, cin: u32, ih: u32, iw: u32,
  cout: u32, oh: u32, ow: u32, kh: u32,
  kw: u32, sh: u32, sw: u32, ph: i32,
  pw: i32, in_sn: u32, in_sc: u32, in_sy: u32,
  in_sx: u32, out_sn: u32, out_sc: u32, out_sy: u32,
  out_sx: u32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> u: Meta;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;      // [kh, kw, cin, cout]
{{EPILOGUE}}

fn first_tap(o: u32, s: u32, p: i32) -> u32 {
  var r = (i32(o) + p) % i32(s);
  if (r < 0) { r += i32(s); }
  return u32(r);
}

fn w4(i: u32) -> vec4f { return vec4f(w[i], w[i + 1u], w[i + 2u], w[i + 3u]); }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let c4 = u.cout / 4u;
  let perPhase = (u.ow + u.sw - 1u) / u.sw;          // outputs of the longest phase of a row
  let qx = u.sw * ((perPhase + TM - 1u) / TM);       // pixel groups per output row
  let idx = (wid.x + wid.y * nwg.x) * WG + lid;
  if (idx >= u.batch * u.oh * qx * c4) { return; }
  let co = (idx % c4) * 4u;                           // channels fastest: neighbours read neighbouring weights
  var r = idx / c4;
  let q = r % qx;
  r /= qx;
  let oy = r % u.oh;
  let n = r / u.oh;
  let ox0 = q % u.sw + (q / u.sw) * TM * u.sw;      // the group's first pixel; the others at + j*sw
  if (ox0 >= u.ow) { return; }

  var acc: array<vec4f, TM>;
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
      let wt = (ky * u.kw + kx) * u.cin * u.cout + co;
      let c4in = u.cin & ~3u;
      var ci = 0u;
      for (; ci < c4in; ci += 4u) {
        let wi = wt + ci * u.cout;
        let w0 = w4(wi);
        let w1 = w4(wi + u.cout);
        let w2 = w4(wi + 2u * u.cout);
        let w3 = w4(wi + 3u * u.cout);
        for (var j = 0u; j < TM; j++) {
          let xi = xb[j] + ci * u.in_sc;
          let xv = vec4f(x[xi], x[xi + u.in_sc], x[xi + 2u * u.in_sc], x[xi + 3u * u.in_sc]) * m[j];
          acc[j] += xv.x * w0 + xv.y * w1 + xv.z * w2 + xv.w * w3;
        }
      }
      for (; ci < u.cin; ci++) {
        let wv = w4(wt + ci * u.cout);
        for (var j = 0u; j < TM; j++) { acc[j] += x[xb[j] + ci * u.in_sc] * m[j] * wv; }
      }
    }
  }
  for (var j = 0u; j < TM; j++) {
    let ox = ox0 + j * u.sw;
    if (ox >= u.ow) { break; }
    let base = n * u.out_sn + oy * u.out_sy + ox * u.out_sx;
    for (var e = 0u; e < 4u; e++) {
      y[base + (co + e) * u.out_sc] = finish(acc[j][e], co + e);
    }
  }
}

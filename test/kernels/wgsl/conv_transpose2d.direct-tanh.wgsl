// Transposed 2-D convolution, one invocation per output element: the path for one or two output
// channels, where the 4-channel blocks of regs.wgsl would mostly compute padding.
// Same Meta, bindings, weight layout [kh, kw, cin, cout] and epilogue as regs.wgsl.
override WG: u32 = 64;

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
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
fn act1(x: f32) -> f32 { return tanh(clamp(x, -15.0, 15.0)); }
fn act2(x: f32) -> f32 { return x; }
fn finish(acc: f32, co: u32) -> f32 { return act2(act1(acc)); }


@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + lid;
  if (idx >= u.batch * u.oh * u.ow * u.cout) { return; }
  // channel fastest: neighbouring threads read neighbouring weights and the same input value
  let co = idx % u.cout;
  var r = idx / u.cout;
  let ox = r % u.ow;
  r = r / u.ow;
  let oy = r % u.oh;
  let n = r / u.oh;

  var acc = 0.0;
  for (var ky = first_tap(oy, u.sh, u.ph); ky < u.kh; ky += u.sh) {
    let iy = (i32(oy) + u.ph - i32(ky)) / i32(u.sh);  // exact by the choice of ky
    if (iy < 0 || iy >= i32(u.ih)) { continue; }
    for (var kx = first_tap(ox, u.sw, u.pw); kx < u.kw; kx += u.sw) {
      let ix = (i32(ox) + u.pw - i32(kx)) / i32(u.sw);
      if (ix < 0 || ix >= i32(u.iw)) { continue; }
      var xi = n * u.in_sn + u32(iy) * u.in_sy + u32(ix) * u.in_sx;
      var wi = (ky * u.kw + kx) * u.cin * u.cout + co;
      for (var ci = 0u; ci < u.cin; ci++) {
        acc = fma(x[xi], w[wi], acc);
        xi += u.in_sc;
        wi += u.cout;
      }
    }
  }
  y[n * u.out_sn + co * u.out_sc + oy * u.out_sy + ox * u.out_sx] = finish(acc, co);
}

// Forward 2-D convolution (cross-correlation, as Keras Conv2D and PyTorch Conv2d), one invocation per
// output element, channel fastest (neighbouring threads read neighbouring weights and the same input).
// The input may be read nearest-upsampled by (uh, uw) on the fly: a Keras UpSampling2D followed by a
// Conv2D runs as this one kernel, without the upsampled tensor ever being written.
override WG: u32 = 64;

struct Meta { batch: u32, cin: u32, ih: u32, iw: u32, cout: u32, oh: u32, ow: u32, kh: u32, kw: u32, sh: u32, sw: u32, ph: i32, pw: i32, uh: u32, uw: u32, in_sn: u32, in_sc: u32, in_sy: u32, in_sx: u32, out_sn: u32, out_sc: u32, out_sy: u32, out_sx: u32 }
@group(0) @binding(0) var<uniform> u: Meta;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;      // [kh, kw, cin, cout]
// then bias [cout] (binding 3) if any, post [2, cout] (scale, shift; binding 4) if any, y (5); finish().
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> post: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
fn act1(x: f32) -> f32 { return max(x, 0.0); }
fn act2(x: f32) -> f32 { return x; }
fn finish(acc: f32, co: u32) -> f32 { return act2(fma(act1(acc + bias[co]), post[co], post[u.cout + co])); }


@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + lid;
  if (idx >= u.batch * u.oh * u.ow * u.cout) { return; }
  let co = idx % u.cout;
  var r = idx / u.cout;
  let ox = r % u.ow;
  r = r / u.ow;
  let oy = r % u.oh;
  let n = r / u.oh;

  // the (upsampled) input's size
  let lh = i32(u.ih * u.uh);
  let lw = i32(u.iw * u.uw);
  var acc = 0.0;
  for (var ky = 0u; ky < u.kh; ky++) {
    let ly = i32(oy * u.sh + ky) - u.ph;
    if (ly < 0 || ly >= lh) { continue; }
    let iy = u32(ly) / u.uh;
    for (var kx = 0u; kx < u.kw; kx++) {
      let lx = i32(ox * u.sw + kx) - u.pw;
      if (lx < 0 || lx >= lw) { continue; }
      let ix = u32(lx) / u.uw;
      var xi = n * u.in_sn + iy * u.in_sy + ix * u.in_sx;
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

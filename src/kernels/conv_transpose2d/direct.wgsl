// Transposed 2-D convolution, one invocation per output element: the path for one or two output
// channels, where the 4-channel blocks of regs.wgsl would mostly compute padding.
// Same Meta, bindings, weight layout [kh, kw, cin, cout] and epilogue as regs.wgsl.
override WG: u32 = 64;

{{COMMON}}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;      // [kh, kw, cin, cout]
// then bias [cout] (binding 3) if any, post [2, cout] (scale, shift; binding 4) if any, y (5); finish().
{{EPILOGUE}}

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

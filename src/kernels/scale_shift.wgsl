// A standalone elementwise stage: y = act(x * scale[c] + shift[c]) (the affine part optional), read
// and written through (n, c, y, x) strides. Used for a batch norm or activation that cannot be fused
// into the kernel producing its input (e.g. after a dense layer's own activation), and to change a
// value's layout.
override WG: u32 = 256;

{{META}}
@group(0) @binding(1) var<storage, read> x: array<f32>;
// then post [2, c] (scale, shift) if any, y; and finish().
{{EPILOGUE}}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + lid;
  if (idx >= u.batch * u.c * u.h * u.w) { return; }
  let ix = idx % u.w;
  var r = idx / u.w;
  let iy = r % u.h;
  r = r / u.h;
  let c = r % u.c;
  let n = r / u.c;
  let v = x[n * u.in_sn + c * u.in_sc + iy * u.in_sy + ix * u.in_sx];
  y[n * u.out_sn + c * u.out_sc + iy * u.out_sy + ix * u.out_sx] = finish(v, c);
}

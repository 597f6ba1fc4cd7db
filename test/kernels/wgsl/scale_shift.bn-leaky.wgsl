// A standalone elementwise stage: y = act(x * scale[c] + shift[c]) (the affine part optional), read
// and written through (n, c, y, x) strides. Used for a batch norm or activation that cannot be fused
// into the kernel producing its input (e.g. after a dense layer's own activation), and to change a
// value's layout.
override WG: u32 = 256;

struct Meta { batch: u32, c: u32, h: u32, w: u32, in_sn: u32, in_sc: u32, in_sy: u32, in_sx: u32, out_sn: u32, out_sc: u32, out_sy: u32, out_sx: u32 }
@group(0) @binding(0) var<uniform> u: Meta;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// then post [2, c] (scale, shift) if any, y; and finish().
@group(0) @binding(3) var<storage, read> post: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
fn act1(x: f32) -> f32 { return x; }
fn act2(x: f32) -> f32 { return select(x * 0.2, x, x >= 0.0); }
fn finish(acc: f32, co: u32) -> f32 { return act2(fma(act1(acc), post[co], post[u.c + co])); }


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

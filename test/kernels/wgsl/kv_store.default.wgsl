// Copies the k and v parts of qkv [R, 3C] into the caches [B, P, C] at the rows' positions.
// `copies` > 1 (a prompt shared by several sequences, B = 1) writes the same rows into the first
// `copies` sequence slots, so every sequence starts from the prompt's cache.
override WG: u32 = 64;

struct Meta { R: u32, C: u32, P: u32, copies: u32 }
@group(0) @binding(0) var<uniform> u: Meta;
struct Step { pos0: u32, T: u32, B: u32 }
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> qkv: array<f32>;
@group(0) @binding(3) var<storage, read_write> kc: array<f32>;
@group(0) @binding(4) var<storage, read_write> vc: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= u.R * u.C) { return; }
  let r = i / u.C;
  let c = i % u.C;
  let b = r / step.T;
  let pos = step.pos0 + r % step.T;
  let k = qkv[r * 3u * u.C + u.C + c];
  let v = qkv[r * 3u * u.C + 2u * u.C + c];
  for (var j = 0u; j < u.copies; j++) {
    let dst = ((b + j) * u.P + pos) * u.C + c;
    kc[dst] = k;
    vc[dst] = v;
  }
}

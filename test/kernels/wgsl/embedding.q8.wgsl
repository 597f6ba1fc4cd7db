// x[r, c] = wte[ids[r], c] + wpe[pos0 + r % T, c] for the ids held by this chunk of wte.
// A vocabulary split over several buffers (a large wte) is one dispatch per chunk; each row's id
// lies in exactly one chunk, so every row is written exactly once.
// The prelude declares wpe (binding 4) with wpe_at; WTE declares wte (binding 3; an 8-bit wte has its
// scales at binding 6) and wte_row(r, c), element c of row r of this chunk.
@group(0) @binding(4) var<storage, read> wpe: array<f32>;
fn wpe_at(i: u32) -> f32 { return wpe[i]; }
fn wpe_at4(i: u32) -> vec4f { return vec4f(wpe[i], wpe[i + 1u], wpe[i + 2u], wpe[i + 3u]); }


override WG: u32 = 64;

struct Meta { R: u32, C: u32, chunkStart: u32, chunkRows: u32 }
@group(0) @binding(0) var<uniform> u: Meta;
struct Step { pos0: u32, T: u32, B: u32 }
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(3) var<storage, read> wte: array<u32>;
@group(0) @binding(6) var<storage, read> q8s: array<vec2u>;
fn scale4(b: u32, c4: u32) -> vec4f {
  let p = q8s[b * ((u.chunkRows + 3u) / 4u) + c4];
  return vec4f(unpack2x16float(p.x), unpack2x16float(p.y));
}
fn scale1(b: u32, c: u32) -> f32 {
  let p = q8s[b * ((u.chunkRows + 3u) / 4u) + c / 4u];
  return unpack2x16float(select(p.x, p.y, (c & 2u) != 0u))[c & 1u];
}
fn wte_row(r: u32, c: u32) -> f32 {
  let v = wte[r * ((u.C + 31u) / 32u) * 8u + c / 4u];
  return f32(bitcast<i32>(v << (24u - 8u * (c & 3u))) >> 24u) * scale1(c / 32u, r);
}

@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(5) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= u.R * u.C) { return; }
  let r = i / u.C;
  let c = i % u.C;
  let id = ids[r];
  if (id < u.chunkStart || id >= u.chunkStart + u.chunkRows) { return; }
  let pos = step.pos0 + r % step.T;
  x[i] = wte_row(id - u.chunkStart, c) + wpe_at(pos * u.C + c);
}

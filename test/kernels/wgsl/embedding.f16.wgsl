// x[r, c] = wte[ids[r], c] + wpe[pos0 + r % T, c] for the ids held by this chunk of wte.
// A vocabulary split over several buffers (a large wte) is one dispatch per chunk; each row's id
// lies in exactly one chunk, so every row is written exactly once.
// The prelude declares wpe (binding 4) with wpe_at; WTE declares wte (binding 3; an 8-bit wte has its
// scales at binding 6) and wte_row(r, c), element c of row r of this chunk.
enable f16;
@group(0) @binding(4) var<storage, read> wpe: array<f16>;
fn wpe_at(i: u32) -> f32 { return f32(wpe[i]); }
fn wpe_at4(i: u32) -> vec4f { return vec4f(vec4<f16>(wpe[i], wpe[i + 1u], wpe[i + 2u], wpe[i + 3u])); }


override WG: u32 = 64;

struct Meta { R: u32, C: u32, chunkStart: u32, chunkRows: u32 }
@group(0) @binding(0) var<uniform> u: Meta;
struct Step { pos0: u32, T: u32, B: u32 }
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(3) var<storage, read> wte: array<f16>;
fn wte_at(i: u32) -> f32 { return f32(wte[i]); }
fn wte_at4(i: u32) -> vec4f { return vec4f(vec4<f16>(wte[i], wte[i + 1u], wte[i + 2u], wte[i + 3u])); }
fn wte_row(r: u32, c: u32) -> f32 { return wte_at(r * u.C + c); }

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

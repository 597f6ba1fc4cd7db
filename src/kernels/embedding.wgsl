// x[r, c] = wte[ids[r], c] + wpe[pos0 + r % T, c] for the ids held by this chunk of wte.
// A vocabulary split over several buffers (a large wte) is one dispatch per chunk; each row's id
// lies in exactly one chunk, so every row is written exactly once.
// The prelude declares wpe (binding 4) with wpe_at; WTE declares wte (binding 3; an 8-bit wte has its
// scales at binding 6) and wte_row(r, c), element c of row r of this chunk.
{{PRELUDE}}

override WG: u32 = 64;

{{META}}
{{STEP}}
{{WTE}}
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

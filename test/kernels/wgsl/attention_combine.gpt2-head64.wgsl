// Merges the chunks of split-context attention (split.wgsl): out = sum_s e^(m_s - M) acc_s / sum_s
// e^(m_s - M) l_s, with M the largest chunk max. A workgroup per (row, head), a thread per dimension.
//   part  [R, H, S, HD+2]
//   out   [R, C]
const HD: u32 = 64u;

override WG: u32 = 64;

struct Meta { R: u32, C: u32, H: u32, P: u32, S: u32, scale: f32 }
@group(0) @binding(0) var<uniform> u: Meta;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let rh = wid.x + wid.y * nwg.x;
  if (rh >= u.R * u.H) { return; }
  let r = rh / u.H;
  let h = rh % u.H;
  let base = rh * u.S * (HD + 2u);
  var big = -3.0e38;
  for (var s = 0u; s < u.S; s++) { big = max(big, part[base + s * (HD + 2u)]); }
  var z = 0.0;
  for (var s = 0u; s < u.S; s++) {
    let at = base + s * (HD + 2u);
    if (part[at + 1u] > 0.0) { z += exp(part[at] - big) * part[at + 1u]; } // chunks past the position have l = 0
  }
  let inv = 1.0 / z;
  for (var d = lid; d < HD; d += WG) {
    var acc = 0.0;
    for (var s = 0u; s < u.S; s++) {
      let at = base + s * (HD + 2u);
      if (part[at + 1u] > 0.0) { acc += exp(part[at] - big) * part[at + 2u + d]; }
    }
    out[r * u.C + h * HD + d] = acc * inv;
  }
}

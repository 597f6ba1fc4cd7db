// The bandwidth ceiling next to the kernel figures: out = in, one vec4 per invocation. It reads and
// writes each byte once, the least memory traffic any kernel over the same data can have.
override WG: u32 = 256;

@group(0) @binding(0) var<storage, read> src: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4f>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < arrayLength(&dst)) { dst[i] = src[i]; }
}

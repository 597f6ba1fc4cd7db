// What every conv_transpose2d path shares: the Meta (binding 0: sizes, padding, strides of x and y)
// and the tap arithmetic of a stride-s axis.
{{META}}

// The first tap that reaches output o along an axis: (o + p) mod s.
fn first_tap(o: u32, s: u32, p: i32) -> u32 {
  var r = (i32(o) + p) % i32(s);
  if (r < 0) { r += i32(s); }
  return u32(r);
}

// One output phase along one axis: its first output, how many outputs and taps it has, and the
// input index of its first output's first tap.
struct Axis { o0: u32, count: u32, taps: u32, base: i32, phase: u32 }

fn axis(phase: u32, s: u32, p: i32, k: u32, out_len: u32) -> Axis {
  var r = (i32(phase) - p) % i32(s);
  if (r < 0) { r += i32(s); }
  let o0 = u32(r);
  var a: Axis;
  a.o0 = o0;
  a.phase = phase;
  a.count = select(0u, (out_len - o0 + s - 1u) / s, o0 < out_len);
  a.taps = select(0u, (k - phase + s - 1u) / s, phase < k);
  a.base = (i32(o0) + p - i32(phase)) / i32(s);  // exact: o0 + p = phase (mod s)
  return a;
}

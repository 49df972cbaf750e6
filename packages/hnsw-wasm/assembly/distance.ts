// Distance kernels over f32 vectors stored in linear memory.
//
// Every stored vector (and every query copied in) is padded with zeros to a
// multiple of 4 floats, so the kernels run whole f32x4 lanes and need no
// scalar tail: the zero lanes add nothing to a dot product or a squared
// difference. The main loop takes 16 floats per step into four independent
// accumulators, which hides the latency of the dependent adds.

/** Squared Euclidean distance, sum((a_i - b_i)^2). */
@inline
export function squaredL2(a: usize, b: usize, paddedBytes: usize): f32 {
  let acc0 = f32x4.splat(0.0);
  let acc1 = f32x4.splat(0.0);
  let acc2 = f32x4.splat(0.0);
  let acc3 = f32x4.splat(0.0);
  let offset: usize = 0;
  while (offset + 64 <= paddedBytes) {
    const pa = a + offset;
    const pb = b + offset;
    const d0 = f32x4.sub(v128.load(pa), v128.load(pb));
    const d1 = f32x4.sub(v128.load(pa, 16), v128.load(pb, 16));
    const d2 = f32x4.sub(v128.load(pa, 32), v128.load(pb, 32));
    const d3 = f32x4.sub(v128.load(pa, 48), v128.load(pb, 48));
    acc0 = f32x4.add(acc0, f32x4.mul(d0, d0));
    acc1 = f32x4.add(acc1, f32x4.mul(d1, d1));
    acc2 = f32x4.add(acc2, f32x4.mul(d2, d2));
    acc3 = f32x4.add(acc3, f32x4.mul(d3, d3));
    offset += 64;
  }
  while (offset < paddedBytes) {
    const d = f32x4.sub(v128.load(a + offset), v128.load(b + offset));
    acc0 = f32x4.add(acc0, f32x4.mul(d, d));
    offset += 16;
  }
  const sum = f32x4.add(f32x4.add(acc0, acc1), f32x4.add(acc2, acc3));
  return (
    f32x4.extract_lane(sum, 0) +
    f32x4.extract_lane(sum, 1) +
    (f32x4.extract_lane(sum, 2) + f32x4.extract_lane(sum, 3))
  );
}

/** Inner product, sum(a_i * b_i). */
@inline
export function innerProduct(a: usize, b: usize, paddedBytes: usize): f32 {
  let acc0 = f32x4.splat(0.0);
  let acc1 = f32x4.splat(0.0);
  let acc2 = f32x4.splat(0.0);
  let acc3 = f32x4.splat(0.0);
  let offset: usize = 0;
  while (offset + 64 <= paddedBytes) {
    const pa = a + offset;
    const pb = b + offset;
    acc0 = f32x4.add(acc0, f32x4.mul(v128.load(pa), v128.load(pb)));
    acc1 = f32x4.add(acc1, f32x4.mul(v128.load(pa, 16), v128.load(pb, 16)));
    acc2 = f32x4.add(acc2, f32x4.mul(v128.load(pa, 32), v128.load(pb, 32)));
    acc3 = f32x4.add(acc3, f32x4.mul(v128.load(pa, 48), v128.load(pb, 48)));
    offset += 64;
  }
  while (offset < paddedBytes) {
    acc0 = f32x4.add(acc0, f32x4.mul(v128.load(a + offset), v128.load(b + offset)));
    offset += 16;
  }
  const sum = f32x4.add(f32x4.add(acc0, acc1), f32x4.add(acc2, acc3));
  return (
    f32x4.extract_lane(sum, 0) +
    f32x4.extract_lane(sum, 1) +
    (f32x4.extract_lane(sum, 2) + f32x4.extract_lane(sum, 3))
  );
}

/** Scales the vector at `a` to unit length in place; a zero vector stays zero. */
export function normalise(a: usize, paddedBytes: usize): void {
  const norm2 = innerProduct(a, a, paddedBytes);
  if (norm2 <= 0) return;
  const scale = f32x4.splat(<f32>(1.0 / Math.sqrt(<f64>norm2)));
  for (let offset: usize = 0; offset < paddedBytes; offset += 16) {
    v128.store(a + offset, f32x4.mul(v128.load(a + offset), scale));
  }
}

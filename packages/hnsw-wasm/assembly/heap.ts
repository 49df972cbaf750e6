// Binary heaps of (distance f32, node u32) pairs laid out as 8-byte entries
// in linear memory. The caller owns the region and keeps the size; every
// function takes the base pointer and the current size and returns the new
// size. `minHeap*` keeps the smallest distance on top (the frontier of a
// search), `maxHeap*` the largest (the worst of the current results, so it
// can be evicted in O(log n)).

@inline
export function entryDistance(base: usize, index: i32): f32 {
  return load<f32>(base + (<usize>index << 3));
}

@inline
export function entryNode(base: usize, index: i32): u32 {
  return load<u32>(base + (<usize>index << 3), 4);
}

@inline
function setEntry(base: usize, index: i32, distance: f32, node: u32): void {
  const p = base + (<usize>index << 3);
  store<f32>(p, distance);
  store<u32>(p, node, 4);
}

export function minHeapPush(base: usize, size: i32, distance: f32, node: u32): i32 {
  let i = size;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const pd = entryDistance(base, parent);
    if (pd <= distance) break;
    setEntry(base, i, pd, entryNode(base, parent));
    i = parent;
  }
  setEntry(base, i, distance, node);
  return size + 1;
}

export function minHeapPop(base: usize, size: i32): i32 {
  const last = size - 1;
  if (last <= 0) return 0;
  const d = entryDistance(base, last);
  const n = entryNode(base, last);
  let i = 0;
  while (true) {
    let child = (i << 1) + 1;
    if (child >= last) break;
    let cd = entryDistance(base, child);
    const right = child + 1;
    if (right < last) {
      const rd = entryDistance(base, right);
      if (rd < cd) {
        child = right;
        cd = rd;
      }
    }
    if (d <= cd) break;
    setEntry(base, i, cd, entryNode(base, child));
    i = child;
  }
  setEntry(base, i, d, n);
  return last;
}

export function maxHeapPush(base: usize, size: i32, distance: f32, node: u32): i32 {
  let i = size;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const pd = entryDistance(base, parent);
    if (pd >= distance) break;
    setEntry(base, i, pd, entryNode(base, parent));
    i = parent;
  }
  setEntry(base, i, distance, node);
  return size + 1;
}

export function maxHeapPop(base: usize, size: i32): i32 {
  const last = size - 1;
  if (last <= 0) return 0;
  const d = entryDistance(base, last);
  const n = entryNode(base, last);
  let i = 0;
  while (true) {
    let child = (i << 1) + 1;
    if (child >= last) break;
    let cd = entryDistance(base, child);
    const right = child + 1;
    if (right < last) {
      const rd = entryDistance(base, right);
      if (rd > cd) {
        child = right;
        cd = rd;
      }
    }
    if (d >= cd) break;
    setEntry(base, i, cd, entryNode(base, child));
    i = child;
  }
  setEntry(base, i, d, n);
  return last;
}

/**
 * Empties a max-heap into `out` in ascending distance order (out[0] is the
 * closest). `out` must not overlap the heap. Returns the number of entries.
 */
export function maxHeapDrainAscending(base: usize, size: i32, out: usize): i32 {
  const total = size;
  while (size > 0) {
    setEntry(out, size - 1, entryDistance(base, 0), entryNode(base, 0));
    size = maxHeapPop(base, size);
  }
  return total;
}

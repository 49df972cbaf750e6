/** A binary min-heap of timed events, ordered by time then insertion order (so runs are deterministic). */
export class EventHeap<T extends { atMs: number; order: number }> {
  readonly #items: T[] = []

  get size(): number {
    return this.#items.length
  }

  push(item: T): void {
    const items = this.#items
    items.push(item)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(item, items[parent] as T)) break
      items[i] = items[parent] as T
      i = parent
    }
    items[i] = item
  }

  peek(): T | undefined {
    return this.#items[0]
  }

  pop(): T | undefined {
    const items = this.#items
    const top = items[0]
    const last = items.pop()
    if (top === undefined || last === undefined || items.length === 0) return top
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= items.length) break
      const right = left + 1
      const child = right < items.length && before(items[right] as T, items[left] as T) ? right : left
      if (!before(items[child] as T, last)) break
      items[i] = items[child] as T
      i = child
    }
    items[i] = last
    return top
  }
}

function before(a: { atMs: number; order: number }, b: { atMs: number; order: number }): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.order < b.order)
}

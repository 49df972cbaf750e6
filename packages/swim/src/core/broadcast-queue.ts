import type { Update } from './types.ts'

/**
 * Updates waiting to be piggybacked (memberlist `TransmitLimitedQueue`). Each
 * is sent at most `retransmitLimit(n)` times; the least-sent (and, among
 * equals, the newest) go first; a newer update about a member replaces the
 * queued one.
 *
 * Items live in one list per transmit count, newest at the end, so taking a
 * packet's worth costs about the number taken, not the queue length (a
 * joining member can queue an update for every member of a large cluster).
 */
export class BroadcastQueue {
  readonly #retransmitMult: number
  /** The live item per member id. */
  readonly #byId = new Map<string, QueuedUpdate>()
  /** `#levels[t]`: items sent t times, oldest first; replaced items are skipped lazily. */
  readonly #levels: QueuedUpdate[][] = []
  #order = 0

  constructor(retransmitMult: number) {
    this.#retransmitMult = retransmitMult
  }

  get size(): number {
    return this.#byId.size
  }

  /** `retransmitMult × ceil(log10(n + 1))`. */
  retransmitLimit(clusterSize: number): number {
    return this.#retransmitMult * Math.ceil(Math.log10(clusterSize + 1))
  }

  enqueue(update: Update): void {
    const previous = this.#byId.get(update.id)
    if (previous !== undefined) previous.replaced = true
    this.#order += 1
    const item: QueuedUpdate = {
      update,
      transmits: 0,
      order: this.#order,
      bytes: estimateUpdateBytes(update),
      replaced: false,
    }
    this.#byId.set(update.id, item)
    this.#level(0).push(item)
  }

  /**
   * Takes updates that fit in `budgetBytes`, counting one transmission for
   * each; updates that reached the limit leave the queue. The caller owns the
   * returned array.
   */
  take(budgetBytes: number, clusterSize: number): Update[] {
    const taken: Update[] = []
    if (this.#byId.size === 0) return taken
    const limit = this.retransmitLimit(clusterSize)
    const promoted: QueuedUpdate[] = []
    let used = 0
    let skipped = 0
    for (let t = 0; t < this.#levels.length && skipped < MAX_SKIPS; t++) {
      const level = this.#levels[t] as QueuedUpdate[]
      for (let i = level.length - 1; i >= 0 && skipped < MAX_SKIPS; i--) {
        const item = level[i] as QueuedUpdate
        if (item.replaced || t >= limit) {
          this.#drop(level, i, item)
          continue
        }
        if (used + item.bytes > budgetBytes) {
          skipped += 1
          continue
        }
        level.splice(i, 1)
        used += item.bytes
        taken.push(item.update)
        item.transmits += 1
        if (item.transmits >= limit) this.#byId.delete(item.update.id)
        else promoted.push(item)
      }
    }
    // Oldest first within a level: re-insert in the reverse of the order taken.
    for (let i = promoted.length - 1; i >= 0; i--) {
      const item = promoted[i] as QueuedUpdate
      this.#level(item.transmits).push(item)
    }
    return taken
  }

  #drop(level: QueuedUpdate[], index: number, item: QueuedUpdate): void {
    level.splice(index, 1)
    if (!item.replaced && this.#byId.get(item.update.id) === item) this.#byId.delete(item.update.id)
  }

  #level(transmits: number): QueuedUpdate[] {
    while (this.#levels.length <= transmits) this.#levels.push([])
    return this.#levels[transmits] as QueuedUpdate[]
  }
}

/** Updates too large for the space left are skipped; after this many, the packet counts as full. */
const MAX_SKIPS = 16

interface QueuedUpdate {
  update: Update
  transmits: number
  order: number
  bytes: number
  replaced: boolean
}

/** A conservative estimate of an update's encoded size (msgpack: ~1 byte of framing per field). */
export function estimateUpdateBytes(update: Update): number {
  let bytes = 24 + update.id.length
  if (update.kind === 'alive') {
    bytes += update.address.length
    for (const [key, value] of Object.entries(update.meta)) bytes += key.length + value.length + 4
  } else {
    bytes += update.from.length
  }
  return bytes
}

import type { Update } from './types.ts'

/**
 * Updates waiting to be piggybacked (memberlist `TransmitLimitedQueue`). Each
 * is sent at most `retransmitLimit(n)` times; the least-sent (and, among
 * equals, the newest) go first; a newer update about a member replaces the
 * queued one.
 *
 * When the caller names the recipient, the budget is spent on distinct
 * members: an update is not sent twice to the same member (random gossip
 * targets repeat often in small clusters, and a repeat informs nobody), and a
 * copy sent to the member the update is about (a suspect told it is
 * suspected, a dead member told it is dead so it can refute) is sent without
 * being counted, since it does not spread the news to anyone else; an alive
 * update is not sent to the member it is about at all.
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
      sentTo: [],
    }
    this.#byId.set(update.id, item)
    this.#level(0).push(item)
  }

  /**
   * Takes updates that fit in `budgetBytes`, counting one transmission for
   * each; updates that reached the limit leave the queue. The caller owns the
   * returned array.
   */
  take(budgetBytes: number, clusterSize: number, recipient?: string): Update[] {
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
        // Everyone else has it (limits exceed the member count in tiny clusters): done.
        if (item.replaced || t >= limit || item.sentTo.length >= clusterSize - 1) {
          this.#drop(level, i, item)
          continue
        }
        if (recipient !== undefined && item.sentTo.includes(recipient)) continue
        // News of a member's own liveness tells it nothing; a suspicion or death lets it refute.
        if (item.update.id === recipient && item.update.kind === 'alive') continue
        if (used + item.bytes > budgetBytes) {
          skipped += 1
          continue
        }
        used += item.bytes
        taken.push(item.update)
        if (recipient !== undefined && item.update.id === recipient) continue
        level.splice(i, 1)
        if (recipient !== undefined) item.sentTo.push(recipient)
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
  /** Members it was sent to (at most the retransmit limit). */
  sentTo: string[]
}

/**
 * An upper estimate of an update's size as the wire codec encodes it (a
 * msgpack map with these field names), so piggybacked updates fit the packet
 * budget; checked against the codec in the tests.
 */
export function estimateUpdateBytes(update: Update): number {
  // Field names count as short strings too: kind, id, incarnation (+ address, meta | from).
  let bytes =
    1 + 6 + stringBytes(update.kind) + 4 + stringBytes(update.id) + 13 + uintBytes(update.incarnation)
  if (update.kind === 'alive') {
    bytes += 9 + stringBytes(update.address) + 6
    const entries = Object.entries(update.meta)
    bytes += entries.length < 16 ? 1 : 3
    for (const [key, value] of entries) bytes += stringBytes(key) + stringBytes(value)
  } else {
    bytes += 6 + stringBytes(update.from)
  }
  return bytes
}

/** msgpack str: UTF-8 bytes plus its header, counted as str8's 2 bytes for short strings (msgpackr often uses it). */
function stringBytes(text: string): number {
  let length = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) length += 1
    else if (code < 0x800) length += 2
    else if (code >= 0xd800 && code <= 0xdbff) {
      length += 4
      i += 1
    } else length += 3
  }
  const header = length < 256 ? 2 : length < 65_536 ? 3 : 5
  return header + length
}

/** msgpack uint. */
function uintBytes(value: number): number {
  if (value < 128) return 1
  if (value < 256) return 2
  if (value < 65_536) return 3
  if (value <= 0xffffffff) return 5
  return 9
}

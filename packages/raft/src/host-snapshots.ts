import type { NodeId, SnapshotMessage } from './core/index.ts'

/** Sends one snapshot message over the transport's stream path; rejects when it did not arrive. */
export type SendSnapshot = (toNode: NodeId, group: string, message: SnapshotMessage) => Promise<void>

/** Counters of the snapshot path, part of `RaftHostMetrics`. */
export interface SnapshotCounts {
  snapshotsSent: number
  snapshotsFailed: number
  /** Messages dropped because they repeat a chunk already waiting or just arrived, or a transfer replaced. */
  snapshotsSuperseded: number
}

/**
 * The most bytes one stream carries when adjacent chunks waiting in a queue
 * are sent together (well under the 64 MiB a receiver takes in one message).
 */
export const MAX_COALESCED_SNAPSHOT_BYTES = 8 * 1024 * 1024

interface Link {
  /** Messages the core sent while a transfer was in flight, oldest first. */
  readonly queue: SnapshotMessage[]
}

/** The same stream of the same snapshot from the same leader term. */
const sameTransfer = (a: SnapshotMessage, b: SnapshotMessage): boolean =>
  a.meta.index === b.meta.index && a.meta.term === b.meta.term && a.term === b.term

/** Whether `covering` carries every byte of `chunk` (of the same transfer). */
const covers = (covering: SnapshotMessage, chunk: SnapshotMessage): boolean =>
  sameTransfer(covering, chunk) &&
  chunk.offset >= covering.offset &&
  chunk.offset + chunk.chunk.byteLength <= covering.offset + covering.chunk.byteLength

/** Whether `next` continues `message` in the same buffer, so both travel as one view without a copy. */
const adjacent = (message: SnapshotMessage, next: SnapshotMessage): boolean =>
  sameTransfer(message, next) &&
  next.offset === message.offset + message.chunk.byteLength &&
  next.chunk.buffer === message.chunk.buffer &&
  next.chunk.byteOffset === message.chunk.byteOffset + message.chunk.byteLength

/**
 * The host's side of the snapshot stream path: snapshot messages leave the
 * frames and go through `HostTransport.sendSnapshot`, one transfer in flight
 * per group and destination node, in the order the core sent them (a FIFO).
 * The core keeps a window of chunks in flight and resends what the follower
 * did not acknowledge, so a failed transfer needs no report: it is counted
 * and forgotten. While a transfer is in flight, what the core sends waits in
 * the link's queue; when it ends, the chunks waiting next to each other in
 * one image leave together as one message (one stream, up to
 * `MAX_COALESCED_SNAPSHOT_BYTES`, no copy). A message that repeats a chunk
 * already waiting, or one that just arrived, is dropped; a message of a newer
 * transfer (another snapshot, or another leader term) drops what waits of
 * the older one. Each drop counts as superseded.
 */
export class SnapshotStreams {
  readonly #send: SendSnapshot
  readonly #counts: SnapshotCounts
  readonly #links = new Map<string, Link>()
  #stopped = false

  constructor(send: SendSnapshot, counts: SnapshotCounts) {
    this.#send = send
    this.#counts = counts
  }

  /** Transfers in flight (for tests and metrics). */
  get inFlight(): number {
    return this.#links.size
  }

  send(toNode: NodeId, group: string, message: SnapshotMessage): void {
    if (this.#stopped) return
    const key = `${group}\u0000${toNode}`
    const link = this.#links.get(key)
    if (link === undefined) {
      this.#start(key, toNode, group, message)
      return
    }
    const queue = link.queue
    const older = queue.filter((waiting) => !sameTransfer(waiting, message))
    if (older.length > 0) {
      this.#counts.snapshotsSuperseded += older.length
      queue.splice(0, queue.length, ...queue.filter((waiting) => sameTransfer(waiting, message)))
    }
    if (queue.some((waiting) => covers(waiting, message))) {
      this.#counts.snapshotsSuperseded++
      return
    }
    queue.push(message)
  }

  /** Sends nothing more; transfers under way finish or fail on their own. */
  stop(): void {
    this.#stopped = true
    for (const link of this.#links.values()) link.queue.length = 0
  }

  #start(
    key: string,
    toNode: NodeId,
    group: string,
    message: SnapshotMessage,
    queue: SnapshotMessage[] = [],
  ): void {
    this.#links.set(key, { queue })
    this.#counts.snapshotsSent++
    let transfer: Promise<void>
    try {
      transfer = this.#send(toNode, group, message)
    } catch (error) {
      transfer = Promise.reject(error)
    }
    transfer.then(
      () => this.#finish(key, toNode, group, message, true),
      () => {
        this.#counts.snapshotsFailed++
        this.#finish(key, toNode, group, message, false)
      },
    )
  }

  #finish(key: string, toNode: NodeId, group: string, sent: SnapshotMessage, arrived: boolean): void {
    const queue = this.#links.get(key)?.queue ?? []
    this.#links.delete(key)
    if (this.#stopped) return
    // A resend of a chunk that just arrived would only be answered again.
    const waiting = arrived ? queue.filter((message) => !covers(sent, message)) : queue
    this.#counts.snapshotsSuperseded += queue.length - waiting.length
    const next = coalesce(waiting)
    if (next !== undefined) this.#start(key, toNode, group, next, waiting)
  }
}

/**
 * Takes the first waiting message off `queue`, joined with the messages after
 * it that continue it in the same buffer, up to `MAX_COALESCED_SNAPSHOT_BYTES`.
 */
function coalesce(queue: SnapshotMessage[]): SnapshotMessage | undefined {
  const first = queue.shift()
  if (first === undefined) return undefined
  let bytes = first.chunk.byteLength
  let last = first
  while (queue.length > 0) {
    const next = queue[0] as SnapshotMessage
    if (!adjacent(last, next) || bytes + next.chunk.byteLength > MAX_COALESCED_SNAPSHOT_BYTES) break
    queue.shift()
    bytes += next.chunk.byteLength
    last = next
  }
  if (last === first) return first
  const chunk = new Uint8Array(first.chunk.buffer, first.chunk.byteOffset, bytes)
  return { ...first, chunk }
}

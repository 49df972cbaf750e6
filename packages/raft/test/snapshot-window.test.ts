import { Rng } from '@shoal/testkit/rng'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { IncomingSnapshot } from '../src/core/incoming-snapshot.ts'
import {
  type Message,
  type RaftConfig,
  RaftConfigError,
  RaftCore,
  resolveRaftConfig,
  type SnapshotMessage,
} from '../src/core/index.ts'
import { MemoryRaftStorage } from '../src/storage.ts'

// The snapshot window: a leader streams a snapshot to a lagging follower with
// up to `maxInflightSnapshotChunks` chunks in flight; the follower acknowledges
// the prefix it holds (cumulative), takes chunks in any order, and the leader
// resends what was not acknowledged after SNAPSHOT_RESEND_HEARTBEATS (3)
// heartbeats. Whatever the network does, the image installs byte-identical.

/** Where each message goes: delivered now, dropped, or kept back to be delivered later (reordered). */
type Fate = 'deliver' | 'drop' | 'duplicate' | 'delay'

/**
 * Three members; 'c' is cut off while 'a' commits entries and compacts its
 * log into an image of `imageBytes` seeded bytes, so 'c' can only catch up
 * by snapshot. Messages between 'a' and 'c' go through `fate`. With
 * `compact: false` the log stays; a request for a catch-up snapshot is
 * answered with the image when `answerRequests`.
 */
class SnapshotRig {
  readonly cores = new Map<string, RaftCore>()
  readonly storages = new Map<string, MemoryRaftStorage>()
  /** Every message the leader sent to 'c', in order. */
  readonly toFollower: Message[] = []
  readonly delayed: Message[] = []
  cut = true
  fate: (m: Message) => Fate = () => 'deliver'
  #queue: Message[] = []
  readonly image: Uint8Array
  /** Ready.snapshotRequested seen, by member. */
  readonly requests = new Map<string, number>()
  answerRequests = true

  constructor(
    imageBytes: number,
    overrides: Partial<RaftConfig>,
    seed = 11,
    {
      compact = true,
      entries = 5,
      emptyFollower = true,
    }: { compact?: boolean; entries?: number; emptyFollower?: boolean } = {},
  ) {
    const rng = new Rng(seed)
    const ids = ['a', 'b', 'c']
    for (const id of ids) {
      // 'c' starts with an empty log (a new replica) unless it is to be a founder like the others.
      const founders = id === 'c' && emptyFollower ? [] : ids
      const storage = MemoryRaftStorage.bootstrap({ voters: founders, learners: [] })
      this.storages.set(id, storage)
      const config = resolveRaftConfig({ id, electionTicks: 10, heartbeatTicks: 1, ...overrides })
      this.cores.set(id, new RaftCore({ config, rng: rng.fork(), ...storage.loadSync() }))
    }
    this.image = new Uint8Array(imageBytes)
    for (let i = 0; i < imageBytes; i++) this.image[i] = rng.int(256)
    this.drain()
    this.core('a').campaign()
    this.settle()
    for (let i = 0; i < entries; i++) {
      const proposed = this.core('a').propose(new TextEncoder().encode(`entry ${i}`))
      expect(proposed.ok).toBe(true)
      this.settle()
    }
    const leader = this.core('a')
    if (compact) leader.compact(leader.log.applied, this.image)
    this.settle()
  }

  core(id: string): RaftCore {
    return this.cores.get(id) as RaftCore
  }

  /** The image 'c' installed, once it did. */
  installed(): Uint8Array | null {
    const follower = this.core('c')
    return follower.snapshot.meta.index === this.core('a').snapshot.meta.index ? follower.snapshot.data : null
  }

  drain(): void {
    for (const [id, core] of this.cores) {
      while (core.hasReady()) {
        const rd = core.ready()
        this.storages.get(id)?.saveSync(rd)
        for (const m of [...rd.earlyMessages, ...rd.messages]) this.#route(m)
        core.advance(rd)
        if (rd.snapshotRequested) {
          this.requests.set(id, (this.requests.get(id) ?? 0) + 1)
          if (this.answerRequests) core.offerSnapshot(core.log.applied, this.image)
        }
      }
    }
  }

  settle(): void {
    this.drain()
    while (this.#queue.length > 0) {
      const m = this.#queue.shift() as Message
      this.core(m.to).step(m)
      this.drain()
    }
  }

  tick(): void {
    for (const [id, core] of this.cores) if (!(this.cut && id === 'c')) core.tick()
    this.settle()
  }

  /** Delivers the message kept back longest ago, or a random one of them. */
  release(pick: number): void {
    if (this.delayed.length === 0) return
    const [m] = this.delayed.splice(pick % this.delayed.length, 1)
    this.#queue.push(m as Message)
    this.settle()
  }

  #route(m: Message): void {
    const withFollower = m.to === 'c' || m.from === 'c'
    if (withFollower && this.cut) return
    if (m.to === 'c' && m.from === 'a') this.toFollower.push(m)
    const fate = withFollower ? this.fate(m) : 'deliver'
    if (fate === 'drop') return
    if (fate === 'delay') this.delayed.push(m)
    else this.#queue.push(m)
    if (fate === 'duplicate') this.#queue.push(m)
  }
}

const snapshotsTo = (messages: readonly Message[]): SnapshotMessage[] =>
  messages.filter((m): m is SnapshotMessage => m.type === 'snapshot')

describe('snapshot window', () => {
  it('streams a window of maxInflightSnapshotChunks chunks before any acknowledgement', () => {
    const rig = new SnapshotRig(10_000, { snapshotChunkBytes: 1000, maxInflightSnapshotChunks: 4 })
    rig.cut = false
    rig.fate = (m) => (m.type === 'snapshotResponse' ? 'delay' : 'deliver')
    rig.tick()
    const sent = snapshotsTo(rig.toFollower)
    expect(sent.map((m) => m.offset)).toEqual([0, 1000, 2000, 3000])
    expect(sent.every((m) => m.chunk.byteLength === 1000 && m.totalBytes === 10_000)).toBe(true)
    // Each acknowledgement opens room for one more chunk.
    rig.release(0)
    expect(snapshotsTo(rig.toFollower).map((m) => m.offset)).toEqual([0, 1000, 2000, 3000, 4000])
  })

  it('with a window of 1 is stop-and-wait: one chunk in flight, the next after its acknowledgement', () => {
    const rig = new SnapshotRig(3_000, { snapshotChunkBytes: 1000, maxInflightSnapshotChunks: 1 })
    rig.cut = false
    rig.fate = (m) => (m.type === 'snapshotResponse' ? 'delay' : 'deliver')
    rig.tick()
    expect(snapshotsTo(rig.toFollower).map((m) => m.offset)).toEqual([0])
    rig.fate = () => 'deliver'
    rig.release(0)
    expect(snapshotsTo(rig.toFollower).map((m) => m.offset)).toEqual([0, 1000, 2000])
    expect(rig.installed()).toEqual(rig.image)
  })

  it('installs the image after one round of the window when nothing is lost', () => {
    const rig = new SnapshotRig(25_000, { snapshotChunkBytes: 1000, maxInflightSnapshotChunks: 8 })
    rig.cut = false
    rig.tick()
    expect(rig.installed()).toEqual(rig.image)
    // Every chunk once: no resend without a loss.
    expect(snapshotsTo(rig.toFollower).map((m) => m.offset)).toEqual(
      Array.from({ length: 25 }, (_, i) => i * 1000),
    )
  })

  it('sends one empty chunk for an empty image', () => {
    const rig = new SnapshotRig(0, { snapshotChunkBytes: 1000, maxInflightSnapshotChunks: 8 })
    rig.cut = false
    rig.tick()
    expect(snapshotsTo(rig.toFollower).map((m) => [m.offset, m.chunk.byteLength])).toEqual([[0, 0]])
    expect(rig.installed()).toEqual(new Uint8Array(0))
  })

  it('resends from the acknowledged prefix (go-back-N) after three heartbeats without progress', () => {
    const rig = new SnapshotRig(6_000, { snapshotChunkBytes: 1000, maxInflightSnapshotChunks: 3 })
    rig.cut = false
    let dropped = false
    rig.fate = (m) => {
      if (m.type !== 'snapshot' || m.offset !== 1000 || dropped) return 'deliver'
      dropped = true
      return 'drop'
    }
    rig.tick()
    // Chunk 1000 was lost: 2000 waits early at the follower, the acknowledgement stays at 1000.
    expect(snapshotsTo(rig.toFollower).map((m) => m.offset)).toEqual([0, 1000, 2000, 3000])
    expect(rig.installed()).toBeNull()
    rig.tick()
    rig.tick()
    expect(snapshotsTo(rig.toFollower)).toHaveLength(4)
    rig.tick()
    expect(
      snapshotsTo(rig.toFollower)
        .map((m) => m.offset)
        .slice(4),
    ).toEqual([1000, 2000, 3000, 4000, 5000])
    expect(rig.installed()).toEqual(rig.image)
  })

  it('waits twice as long before each resend in a row that brings no acknowledgement (3, 6, 12 heartbeats, at most 24)', () => {
    const rig = new SnapshotRig(4_000, { snapshotChunkBytes: 1000, maxInflightSnapshotChunks: 2 })
    rig.cut = false
    rig.fate = (m) => (m.type === 'snapshot' ? 'drop' : 'deliver')
    rig.tick()
    const sendsAt: number[] = []
    for (let heartbeat = 1; heartbeat <= 60; heartbeat++) {
      const before = snapshotsTo(rig.toFollower).length
      rig.tick()
      if (snapshotsTo(rig.toFollower).length > before) sendsAt.push(heartbeat)
    }
    expect(sendsAt).toEqual([3, 9, 21, 45])
    // An acknowledgement ends the doubling: the image arrives, after the next resend.
    rig.fate = () => 'deliver'
    for (let i = 0; i < 30 && rig.installed() === null; i++) rig.tick()
    expect(rig.installed()).toEqual(rig.image)
  })

  it('goes back to the start when the follower acknowledges less than before (it started over)', () => {
    const rig = new SnapshotRig(8_000, { snapshotChunkBytes: 1000, maxInflightSnapshotChunks: 2 })
    rig.cut = false
    // Hold the acknowledgement of the third chunk so the leader's window stops at 4000.
    rig.fate = (m) => (m.type === 'snapshotResponse' && m.received >= 3000 ? 'delay' : 'deliver')
    rig.tick()
    expect(snapshotsTo(rig.toFollower).map((m) => m.offset)).toEqual([0, 1000, 2000, 3000])
    // The follower restarts and loses the half-received image, then the next chunk arrives.
    const storage = rig.storages.get('c') as MemoryRaftStorage
    const config = resolveRaftConfig({ id: 'c', electionTicks: 10, heartbeatTicks: 1 })
    rig.cores.set('c', new RaftCore({ config, rng: new Rng(5), ...storage.loadSync() }))
    rig.delayed.length = 0
    rig.fate = () => 'deliver'
    const restarted = rig.core('c')
    const next = snapshotsTo(rig.toFollower).at(-1) as SnapshotMessage
    restarted.step({ ...next, offset: 3000, chunk: rig.image.subarray(3000, 4000) })
    rig.settle()
    const resent = snapshotsTo(rig.toFollower).slice(4)
    expect(resent[0]?.offset).toBe(0)
    expect(rig.installed()).toEqual(rig.image)
  })

  it('rejects a window of 0 chunks with RaftConfigError', () => {
    expect(() => resolveRaftConfig({ id: 'a', maxInflightSnapshotChunks: 0 })).toThrow(RaftConfigError)
  })
})

describe('catch-up snapshot (catchUpSnapshotBytes)', () => {
  const uncompacted = { compact: false, entries: 20 }

  it('a new replica lacking more than catchUpSnapshotBytes of entries starts from a fresh snapshot; the log stays', () => {
    const rig = new SnapshotRig(
      3_000,
      { snapshotChunkBytes: 1000, catchUpSnapshotBytes: 64 },
      11,
      uncompacted,
    )
    const leader = rig.core('a')
    const applied = leader.log.applied
    rig.cut = false
    rig.tick()
    expect(rig.requests.get('a')).toBe(1)
    expect(rig.installed()).toEqual(rig.image)
    expect(rig.core('c').snapshot.meta.index).toBe(applied)
    expect(leader.log.snapshotIndex).toBe(0)
    // What follows the snapshot comes as entries.
    expect(leader.propose(new TextEncoder().encode('after')).ok).toBe(true)
    rig.settle()
    rig.tick()
    expect(rig.core('c').log.lastIndex()).toBe(leader.log.lastIndex())
    expect(rig.core('c').log.committed).toBe(leader.log.committed)
  })

  it('sends the new replica neither entries it could take nor a snapshot until the driver offers one', () => {
    const rig = new SnapshotRig(3_000, { catchUpSnapshotBytes: 64 }, 11, uncompacted)
    rig.answerRequests = false
    rig.cut = false
    rig.tick()
    rig.tick()
    expect(rig.requests.get('a')).toBeGreaterThanOrEqual(1)
    expect(snapshotsTo(rig.toFollower)).toEqual([])
    expect(rig.core('c').log.lastIndex()).toBe(0)
    rig.answerRequests = true
    rig.tick()
    expect(rig.installed()).toEqual(rig.image)
  })

  it('with catchUpSnapshotBytes 0 a new replica replays the log', () => {
    const rig = new SnapshotRig(3_000, { catchUpSnapshotBytes: 0 }, 11, uncompacted)
    rig.cut = false
    rig.tick()
    expect(rig.requests.size).toBe(0)
    expect(snapshotsTo(rig.toFollower)).toEqual([])
    expect(rig.core('c').log.lastIndex()).toBe(rig.core('a').log.lastIndex())
  })

  it('a replica that already holds entries catches up from the log, however far behind', () => {
    const rig = new SnapshotRig(3_000, { catchUpSnapshotBytes: 64 }, 11, {
      compact: false,
      entries: 0,
      emptyFollower: false,
    })
    rig.cut = false
    rig.tick()
    expect(rig.core('c').log.lastIndex()).toBe(rig.core('a').log.lastIndex())
    rig.cut = true
    for (let i = 0; i < 20; i++) {
      expect(rig.core('a').propose(new TextEncoder().encode(`later ${i}`)).ok).toBe(true)
      rig.settle()
    }
    rig.cut = false
    rig.tick()
    rig.tick()
    expect(rig.requests.size).toBe(0)
    expect(snapshotsTo(rig.toFollower)).toEqual([])
    expect(rig.core('c').log.committed).toBe(rig.core('a').log.committed)
  })

  it('a new leader does not take a follower that is behind, at match 0 with it, for a new replica', () => {
    const rig = new SnapshotRig(3_000, { catchUpSnapshotBytes: 64 }, 11, {
      compact: false,
      entries: 0,
      emptyFollower: false,
    })
    rig.cut = false
    rig.tick()
    rig.cut = true
    for (let i = 0; i < 20; i++) {
      expect(rig.core('a').propose(new TextEncoder().encode(`entry ${i}`)).ok).toBe(true)
      rig.settle()
    }
    rig.core('a').transferLeadership('b')
    rig.settle()
    expect(rig.core('b').role).toBe('leader')
    rig.cut = false
    rig.tick()
    rig.tick()
    expect(rig.requests.size).toBe(0)
    expect(rig.core('c').log.committed).toBe(rig.core('b').log.committed)
    expect(rig.core('c').snapshot.meta.index).toBe(0)
  })

  it('uses the latest snapshot without asking for one when little log follows it', () => {
    const rig = new SnapshotRig(3_000, { snapshotChunkBytes: 1000, catchUpSnapshotBytes: 64 }, 11, {
      compact: true,
      entries: 20,
    })
    rig.cut = false
    rig.tick()
    expect(rig.requests.size).toBe(0)
    expect(rig.installed()).toEqual(rig.image)
  })

  it('rejects a negative catchUpSnapshotBytes with RaftConfigError', () => {
    expect(() => resolveRaftConfig({ id: 'a', catchUpSnapshotBytes: -1 })).toThrow(RaftConfigError)
  })
})

describe('IncomingSnapshot', () => {
  const first = (totalBytes: number): SnapshotMessage => ({
    type: 'snapshot',
    from: 'a',
    to: 'c',
    term: 3,
    meta: { index: 9, term: 2, confState: { voters: ['a'], learners: [] } },
    offset: 0,
    chunk: new Uint8Array(0),
    totalBytes,
  })

  it('acknowledges only the whole prefix, absorbing pieces that came early', () => {
    const incoming = new IncomingSnapshot(first(30))
    const image = Uint8Array.from({ length: 30 }, (_, i) => i)
    incoming.accept(20, image.subarray(20, 30))
    incoming.accept(10, image.subarray(10, 20))
    expect(incoming.received).toBe(0)
    incoming.accept(0, image.subarray(0, 10))
    expect(incoming.received).toBe(30)
    expect(incoming.complete).toBe(true)
    expect(incoming.data).toEqual(image)
  })

  it('refuses a piece outside the image and ignores one it already holds', () => {
    const incoming = new IncomingSnapshot(first(10))
    expect(incoming.accept(5, new Uint8Array(6))).toBe(false)
    expect(incoming.accept(0, new Uint8Array(4).fill(1))).toBe(true)
    expect(incoming.accept(0, new Uint8Array(4).fill(9))).toBe(true)
    expect([...incoming.data.subarray(0, 4)]).toEqual([1, 1, 1, 1])
    expect(incoming.received).toBe(4)
  })

  it('belongs to one leader term, snapshot and size', () => {
    const incoming = new IncomingSnapshot(first(10))
    expect(incoming.matches(first(10))).toBe(true)
    expect(incoming.matches({ ...first(10), term: 4 })).toBe(false)
    expect(incoming.matches(first(11))).toBe(false)
    expect(incoming.matches({ ...first(10), meta: { ...first(10).meta, index: 10 } })).toBe(false)
  })
})

/** fast-check settings; a failure prints its seed, and `SEED=<seed>` replays it. */
function fcParams(numRuns: number): fc.Parameters<unknown> {
  const seed = process.env.SEED
  return seed === undefined || seed === '' ? { numRuns } : { numRuns, seed: Number(seed) }
}

describe('snapshot window under loss, reordering and duplication (property)', () => {
  it('installs the image byte-identical, whatever the window, chunk size and faults', () => {
    fc.assert(
      fc.property(
        fc.record({
          imageBytes: fc.integer({ min: 0, max: 6_000 }),
          chunkBytes: fc.integer({ min: 64, max: 1_500 }),
          window: fc.integer({ min: 1, max: 10 }),
          lossPercent: fc.integer({ min: 0, max: 30 }),
          duplicatePercent: fc.integer({ min: 0, max: 30 }),
          delayPercent: fc.integer({ min: 0, max: 40 }),
          seed: fc.integer({ min: 1, max: 2 ** 30 }),
        }),
        (p) => {
          const rig = new SnapshotRig(
            p.imageBytes,
            { snapshotChunkBytes: p.chunkBytes, maxInflightSnapshotChunks: p.window },
            p.seed,
          )
          const rng = new Rng(p.seed)
          rig.cut = false
          rig.fate = () => {
            const roll = rng.int(100)
            if (roll < p.lossPercent) return 'drop'
            if (roll < p.lossPercent + p.duplicatePercent) return 'duplicate'
            if (roll < p.lossPercent + p.duplicatePercent + p.delayPercent) return 'delay'
            return 'deliver'
          }
          for (let step = 0; step < 3_000 && rig.installed() === null; step++) {
            if (rng.int(3) === 0) rig.release(rng.int(1 << 20))
            else rig.tick()
          }
          // Faults stop: what was kept back arrives, then a few quiet heartbeats.
          rig.fate = () => 'deliver'
          while (rig.delayed.length > 0) rig.release(0)
          for (let i = 0; i < 20 && rig.installed() === null; i++) rig.tick()
          expect(rig.installed()).toEqual(rig.image)
          expect(rig.core('c').log.committed).toBeGreaterThanOrEqual(rig.core('a').snapshot.meta.index)
        },
      ),
      fcParams(60),
    )
  })
})

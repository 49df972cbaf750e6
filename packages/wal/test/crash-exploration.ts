import { SimFileSystem } from '@shoal/testkit/fs'
import { Rng } from '@shoal/testkit/rng'
import { expect } from 'vitest'
import { Wal } from '../src/index.ts'
import { slowSyncs } from './helpers.ts'

/**
 * Crash-state exploration: a random workload of concurrent appends, batches,
 * compactions and suffix truncations runs on the simulated filesystem; before every mutating
 * operation (each write, sync, truncate, create, rename, remove, directory
 * sync) several crash images are taken, each keeping what was synced plus a
 * random selection of the unsynced operations, some torn. Every image must
 * open and hold every acknowledged record, intact and in order.
 */
interface CrashState {
  image: SimFileSystem
  ackedUpTo: number
  compactedBefore: number
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function payload(rng: Rng, index: number): Uint8Array {
  const bytes = new Uint8Array(rng.range(0, 40))
  for (let i = 0; i < bytes.length; i++) bytes[i] = (index * 13 + i) & 0xff
  return bytes
}

async function runWorkload(seed: number, imagesPerBoundary: number) {
  const rng = new Rng(seed)
  const fs = new SimFileSystem({ sectorBytes: 16 })
  const options = {
    fs,
    segmentBytes: 512,
    preallocate: rng.chance(0.5),
    // Compacted segment files reused for later segments, or deleted.
    recycleSegments: rng.pick([0, 2]),
    // Small thresholds put two writes in flight (the second overlapping the first one's sync).
    pipelineBytes: rng.pick([Number.POSITIVE_INFINITY, 24, 96]),
    readChunkBytes: rng.pick([64, 96, 8192]),
    syncMethod: rng.pick(['fdatasync', 'dsync'] as const),
  }
  // With pipelining, syncs take a turn of the event loop, so that appends pile up and a second
  // write goes out while the first one's sync runs: crash images then hold two unsynced writes.
  const pipelined = options.pipelineBytes !== Number.POSITIVE_INFINITY
  const walFs = pipelined ? slowSyncs(fs, () => new Promise((resolve) => setImmediate(resolve))).fs : fs
  const wal = await Wal.open('/wal', { ...options, fs: walFs })
  const written = new Map<number, Uint8Array[]>()
  const states: CrashState[] = []
  let ackedUpTo = 0
  let compactedBefore = 1
  const imageRng = rng.fork()
  fs.onOperation = () => {
    for (let i = 0; i < imagesPerBoundary; i++) {
      states.push({ image: fs.crashImage(imageRng), ackedUpTo, compactedBefore })
    }
  }
  // Every version ever written at an index (truncation lets an index be written again).
  const record = (index: number, bytes: Uint8Array) => {
    const versions = written.get(index)
    if (versions === undefined) written.set(index, [bytes])
    else versions.push(bytes)
  }
  const ack = (index: number) => {
    ackedUpTo = Math.max(ackedUpTo, index)
  }
  const appender = async (rounds: number) => {
    for (let round = 0; round < rounds; round++) {
      if (rng.chance(0.2)) {
        const payloads = Array.from({ length: rng.range(1, 4) }, () => payload(rng, 0))
        const end = await wal.appendBatch(payloads)
        for (let i = 0; i < payloads.length; i++) record(end - payloads.length + 1 + i, payloads[i]!)
        ack(end)
      } else {
        const bytes = payload(rng, round)
        const index = await wal.append(bytes)
        record(index, bytes)
        ack(index)
      }
      if (rng.chance(0.05) && wal.lastIndex > 10) {
        const before = wal.lastIndex - rng.int(10)
        compactedBefore = Math.max(compactedBefore, before)
        await wal.compactBefore(before)
      }
    }
  }
  await Promise.all(Array.from({ length: 4 }, () => appender(rng.range(5, 12))))
  // A quiet phase with suffix truncations (Raft log conflicts), then concurrency again.
  for (let round = 0; round < 3; round++) {
    const keep = Math.max(wal.firstIndex - 1, wal.lastIndex - rng.int(12))
    ackedUpTo = Math.min(ackedUpTo, keep)
    await wal.truncateAfter(keep)
    await appender(rng.range(2, 6))
  }
  await Promise.all(Array.from({ length: 4 }, () => appender(rng.range(5, 12))))
  fs.onOperation = undefined
  states.push({ image: fs.durableImage(), ackedUpTo, compactedBefore })
  await wal.close()
  return { states, written, options }
}

/**
 * Explores crash states of random workloads from `seed` on until at least
 * `minStates` were checked (or `budgetMs` ran out); fails the test on the
 * first violation, naming the seed and state.
 */
export async function exploreCrashStates(
  seed: number,
  minStates: number,
  budgetMs: number,
): Promise<{ explored: number; torn: number; elapsedMs: number }> {
  let explored = 0
  const started = performance.now()
  let torn = 0
  for (let run = 0; explored < minStates && performance.now() - started < budgetMs; run++) {
    const { states, written, options } = await runWorkload(seed + run, 8)
    for (const [n, state] of states.entries()) {
      const context = `seed ${seed + run}, state ${n}`
      const wal = await Wal.open('/wal', { ...options, fs: state.image }).catch((error: unknown) => {
        throw new Error(`${context}: open failed: ${String(error)}`, { cause: error })
      })
      if (wal.recovery.tornTail !== undefined) torn++
      if (wal.lastIndex < state.ackedUpTo || wal.firstIndex > state.compactedBefore) {
        expect(wal.lastIndex, context).toBeGreaterThanOrEqual(state.ackedUpTo)
        expect(wal.firstIndex, context).toBeLessThanOrEqual(state.compactedBefore)
      }
      let expected = wal.firstIndex
      for await (const batch of wal.readBatches(wal.firstIndex)) {
        for (const record of batch) {
          // Plain comparisons here; expect() per record would dominate the run time.
          if (record.index !== expected) expect(record.index, context).toBe(expected)
          // Unacknowledged records may be absent, but what is there is what was written.
          const versions = written.get(record.index) ?? []
          if (!versions.some((version) => sameBytes(version, record.payload))) {
            expect.fail(`${context}: index ${record.index} holds bytes never written there`)
          }
          expected++
        }
      }
      if (expected - 1 !== wal.lastIndex) expect(expected - 1, context).toBe(wal.lastIndex)
      if (n % 16 === 0) {
        // Recovery leaves a WAL that takes writes and reopens cleanly.
        const next = await wal.append(Uint8Array.of(1, 2, 3))
        await wal.close()
        const again = await Wal.open('/wal', { ...options, fs: state.image })
        expect(again.lastIndex, context).toBe(next)
        expect(again.recovery.tornTail, context).toBeUndefined()
        await again.close()
      } else {
        await wal.close()
      }
      explored++
    }
  }
  return { explored, torn, elapsedMs: performance.now() - started }
}

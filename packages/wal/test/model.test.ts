import { SimFileSystem } from '@shoal/testkit/fs'
import { testSeed } from '@shoal/testkit/rng'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Wal, type WalOptions } from '../src/index.ts'
import { slowSyncs, tempDir } from './helpers.ts'

/**
 * Model-based property test: random sequences of append, appendBatch,
 * truncateAfter, compactBefore and close+reopen run against the WAL and an
 * in-memory array; after every step the WAL holds exactly the model's records
 * from its firstIndex on.
 */
type Op =
  | { kind: 'append'; size: number }
  | { kind: 'appendBatch'; sizes: number[] }
  | { kind: 'concurrent'; sizes: number[] }
  | { kind: 'truncateAfter'; back: number }
  | { kind: 'compactBefore'; back: number }
  | { kind: 'reopen' }

const size = fc.integer({ min: 0, max: 120 })
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), size }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('appendBatch' as const),
      sizes: fc.array(size, { maxLength: 8 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('concurrent' as const),
      sizes: fc.array(size, { maxLength: 8 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('truncateAfter' as const),
      back: fc.integer({ min: 0, max: 12 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('compactBefore' as const),
      back: fc.integer({ min: 0, max: 30 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
)

let counter = 0
function freshPayload(length: number): Uint8Array {
  counter++
  const bytes = new Uint8Array(length)
  for (let i = 0; i < length; i++) bytes[i] = (counter * 17 + i) & 0xff
  return bytes
}

async function check(wal: Wal, model: Map<number, Uint8Array>, modelLast: number): Promise<void> {
  expect(wal.lastIndex).toBe(modelLast)
  const got: Array<[number, Uint8Array]> = []
  for await (const record of wal.read(wal.firstIndex)) got.push([record.index, record.payload.slice()])
  const want: Array<[number, Uint8Array]> = []
  for (let index = wal.firstIndex; index <= modelLast; index++) want.push([index, model.get(index)!])
  expect(got).toEqual(want)
}

async function runOps(ops: Op[], dir: string, options: WalOptions): Promise<void> {
  let wal = await Wal.open(dir, options)
  const model = new Map<number, Uint8Array>()
  let last = wal.lastIndex
  let floor = wal.firstIndex
  for (const step of ops) {
    switch (step.kind) {
      case 'append': {
        const payload = freshPayload(step.size)
        const index = await wal.append(payload)
        expect(index).toBe(last + 1)
        model.set(++last, payload)
        break
      }
      case 'appendBatch': {
        const payloads = step.sizes.map(freshPayload)
        const end = await wal.appendBatch(payloads)
        for (const payload of payloads) model.set(++last, payload)
        expect(end).toBe(last)
        break
      }
      case 'concurrent': {
        const payloads = step.sizes.map(freshPayload)
        const indexes = await Promise.all(payloads.map((payload) => wal.append(payload)))
        expect(indexes).toEqual(payloads.map((_, i) => last + 1 + i))
        for (const payload of payloads) model.set(++last, payload)
        break
      }
      case 'truncateAfter': {
        const keep = Math.max(wal.firstIndex - 1, last - step.back)
        await wal.truncateAfter(keep)
        for (let index = keep + 1; index <= last; index++) model.delete(index)
        last = keep
        break
      }
      case 'compactBefore': {
        const before = Math.max(1, last + 1 - step.back)
        await wal.compactBefore(before)
        expect(wal.firstIndex).toBeGreaterThanOrEqual(floor)
        if (before >= floor) expect(wal.firstIndex).toBeLessThanOrEqual(before)
        floor = wal.firstIndex
        break
      }
      case 'reopen': {
        await wal.close()
        wal = await Wal.open(dir, options)
        expect(wal.firstIndex).toBe(floor)
        expect(wal.recovery.tornTail).toBeUndefined()
        break
      }
    }
    await check(wal, model, last)
  }
  await wal.close()
}

describe('model-based', () => {
  it('matches an in-memory model on the simulated filesystem', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { maxLength: 40 }),
        fc.boolean(),
        fc.constantFrom(64, 100, 4096),
        fc.constantFrom(Number.POSITIVE_INFINITY, 32),
        fc.constantFrom(0, 2),
        async (ops, preallocate, readChunkBytes, pipelineBytes, recycleSegments) => {
          // Small read chunks make frames straddle chunk boundaries; slow syncs with a small
          // pipelineBytes put two writes in flight; segment files are reused or deleted.
          const sim = new SimFileSystem()
          const fs =
            pipelineBytes === 32
              ? slowSyncs(sim, () => new Promise((resolve) => setImmediate(resolve))).fs
              : sim
          await runOps(ops, '/wal', {
            fs,
            segmentBytes: 400,
            preallocate,
            readChunkBytes,
            pipelineBytes,
            recycleSegments,
          })
        },
      ),
      { seed: testSeed(4242), numRuns: 150 },
    )
  })

  it('matches an in-memory model on the real filesystem', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
        const { dir, cleanup } = await tempDir()
        try {
          await runOps(ops, dir, { segmentBytes: 600, sync: 'none', pipelineBytes: 64 })
        } finally {
          await cleanup()
        }
      }),
      { seed: testSeed(4243), numRuns: 25 },
    )
  })
})

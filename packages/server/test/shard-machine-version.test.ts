import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { openReplica } from '@shoal/engine'
import type { NormalEntry } from '@shoal/raft'
import { Packr } from 'msgpackr'
import { afterEach, describe, expect, it } from 'vitest'
import {
  EngineShardMachine,
  encodeShardEntry,
  type ShardEntry,
} from '../src/internal/cluster/shard-machine.ts'

// The state version lets a coordinator use statistics read from one replica of a shard for a
// search served by another (docs/distributed-search.md, Caching).

const machines: EngineShardMachine[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const machine of machines.splice(0)) await machine.engine.close()
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

async function machine(): Promise<EngineShardMachine> {
  const dir = await mkdtemp(path.join(tmpdir(), 'shoal-shard-version-'))
  dirs.push(dir)
  const made = new EngineShardMachine(await openReplica(dir))
  machines.push(made)
  return made
}

const at = '2026-01-01T00:00:00.000Z'
function entry(index: number, task: number, command: ShardEntry['command']): NormalEntry {
  return { kind: 'normal', term: 1, index, data: encodeShardEntry({ taskUids: [task], command }) }
}
const log: NormalEntry[] = [
  entry(1, 1, { type: 'createIndex', uid: 'books', primaryKey: 'id', settings: null, at }),
  // Index 2 is a leader's no-op: replicas never apply it.
  entry(3, 2, {
    type: 'addDocuments',
    uid: 'books',
    documents: [
      { id: 1, title: 'the pelican brief' },
      { id: 2, title: 'a brief history of time' },
    ],
    primaryKey: null,
    merge: false,
    at,
  }),
]

describe('a shard replica names its state by the last log entry it applied', () => {
  it('two replicas that applied the same entries have the same version, and the same statistics', async () => {
    const [a, b] = [await machine(), await machine()]
    expect(a.stateVersion).toBe(b.stateVersion)
    for (const next of log) {
      await a.apply(next)
      expect(a.stateVersion).not.toBe(b.stateVersion)
      await b.apply(next)
      expect(a.stateVersion).toBe(b.stateVersion)
    }
    const statsOf = (m: EngineShardMachine) => m.engine.index('books').searchStats({ q: 'brief' }).text
    expect(statsOf(a)).toEqual(statsOf(b))
  })

  it('has no version while an entry is being applied', async () => {
    const a = await machine()
    await a.apply(log[0]!)
    const applying = a.apply(log[1]!)
    expect(a.stateVersion).toBeNull()
    await applying
    expect(a.stateVersion).not.toBeNull()
  })

  it('a replica restored from another replica\u2019s snapshot has that replica\u2019s version', async () => {
    const [a, b] = [await machine(), await machine()]
    for (const next of log) await a.apply(next)
    await b.restore(await a.snapshot())
    expect(b.stateVersion).toBe(a.stateVersion)
    expect(b.engine.index('books').search({ q: 'brief' }).hits).toEqual(
      a.engine.index('books').search({ q: 'brief' }).hits,
    )
  })

  it('an image without the recorded index leaves the version unknown until the next entry', async () => {
    const [a, b] = [await machine(), await machine()]
    await a.apply(log[0]!)
    const packr = new Packr({ useRecords: false, moreTypes: false })
    const older = packr.unpack(await a.snapshot()) as { engine: Uint8Array; outcomes: unknown }
    await b.restore(packr.pack({ engine: older.engine, outcomes: older.outcomes }))
    expect(b.stateVersion).toBeNull()
    await a.apply(log[1]!)
    await b.apply(log[1]!)
    expect(b.stateVersion).toBe(a.stateVersion)
  })
})

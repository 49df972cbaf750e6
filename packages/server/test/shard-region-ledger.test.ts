import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { type Command, openReplica } from '@shoal/engine'
import { afterEach, describe, expect, it } from 'vitest'
import {
  EngineShardMachine,
  encodeShardEntry,
  type ShardOutcome,
} from '../src/internal/cluster/shard-machine.ts'
import type { ShardRegionTag } from '../src/internal/cluster/shard-region-ledger.ts'

// The region ledger of a shard replica (docs/multi-region.md, "Regions made of clusters"): tagged
// shard entries settled by last-writer-wins in apply, the same on every replica, numbered by
// their Raft index, and carried by snapshot images. Real engine partitions, as in a cluster.

const dirs: string[] = []
const machines: EngineShardMachine[] = []
afterEach(async () => {
  for (const machine of machines.splice(0)) await machine.engine.close()
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

async function replica(retainEntries?: number, retainBytes?: number): Promise<EngineShardMachine> {
  const dir = await mkdtemp(path.join(tmpdir(), 'shoal-shard-ledger-'))
  dirs.push(dir)
  const made = new EngineShardMachine(await openReplica(dir), [], undefined, retainEntries, retainBytes)
  machines.push(made)
  return made
}

const AT = '2026-01-01T00:00:00.000Z'
const AT_MS = Date.parse(AT)
let taskUid = 0

function entry(index: number, command: Command, region?: ShardRegionTag) {
  const data = encodeShardEntry({ taskUids: [++taskUid], command, ...(region ? { region } : {}) })
  return { kind: 'normal' as const, term: 1, index, data }
}

const create: Command = { type: 'createIndex', uid: 'items', primaryKey: 'id', settings: null, at: AT }
const put = (id: number, title: string): Command => ({
  type: 'addDocuments',
  uid: 'items',
  documents: [{ id, title }],
  primaryKey: 'id',
  merge: false,
  at: AT,
})
const local = (wallMs: number, logical = 0): ShardRegionTag => ({
  kind: 'local',
  region: 'eu',
  wallMs,
  logical,
})
const remote = (
  seq: number,
  wallMs: number,
  prev: Array<[number, number, string] | null> = [null],
): Extract<ShardRegionTag, { kind: 'remote' }> => ({
  kind: 'remote',
  origin: 'us',
  originShard: 'items-1-0',
  seq,
  wallMs,
  logical: 0,
  prev,
})

async function titleOf(shard: EngineShardMachine, id: number): Promise<unknown> {
  try {
    return shard.engine.index('items').getDocument(id).title
  } catch {
    return null
  }
}

describe('shard region ledger', () => {
  it('numbers local writes by their Raft index, each naming the previous one of its index', async () => {
    const shard = await replica()
    await shard.apply(entry(2, create, local(1000)))
    await shard.apply(entry(3, put(1, 'a'), local(1001)))
    await shard.apply(entry(7, put(2, 'b'), local(1002)))
    const fed = shard.regionLedger.feedAfter('items', 0, 10)
    expect(fed.ok).toBe(true)
    if (!fed.ok) return
    expect(fed.entries.map((e) => [e.seq, e.after])).toEqual([
      [2, 0],
      [3, 2],
      [7, 3],
    ])
    expect(shard.regionLedger.headOf('items')).toBe(7)
    expect(fed.entries[2]!.prev).toEqual([null])
    expect(shard.regionLedger.versionOf('items', '2')).toEqual({
      hlc: { wallMs: 1002, logical: 0 },
      region: 'eu',
    })
  })

  it('raises a local write proposed with a clock behind a version it replaces', async () => {
    const shard = await replica()
    await shard.apply(entry(1, create, local(1000)))
    await shard.apply(entry(2, put(1, 'from us'), remote(5, 9000)))
    // The proposing node's clock is behind the remote write it replaces: the write still wins.
    await shard.apply(entry(3, put(1, 'later here'), local(2000)))
    const version = shard.regionLedger.versionOf('items', '1')
    expect(version).toEqual({ hlc: { wallMs: 9000, logical: 1 }, region: 'eu' })
    const fed = shard.regionLedger.feedAfter('items', 1, 10)
    expect(fed.ok && fed.entries[0]!.prev).toEqual([{ hlc: { wallMs: 9000, logical: 0 }, region: 'us' }])
    expect(await titleOf(shard, 1)).toBe('later here')
  })

  it('applies a later remote write that knew the version held, without a conflict', async () => {
    const shard = await replica()
    await shard.apply(entry(1, create, local(1000)))
    await shard.apply(entry(2, put(1, 'here'), local(1001)))
    await shard.apply(entry(3, put(1, 'there'), remote(4, 1500, [[1001, 0, 'eu']])))
    expect(await titleOf(shard, 1)).toBe('there')
    expect(shard.regionLedger.conflicts()).toEqual([])
    expect(shard.regionLedger.appliedOf('us', 'items', 'items-1-0')).toBe(4)
  })

  it('keeps the later local version against a concurrent earlier remote write, logging the loser', async () => {
    const shard = await replica()
    await shard.apply(entry(1, create, local(1000)))
    await shard.apply(entry(2, put(1, 'here'), local(2000)))
    const outcome = (await shard.apply(entry(3, put(1, 'there'), remote(4, 1500)))) as ShardOutcome
    expect(outcome.ok).toBe(true)
    expect(await titleOf(shard, 1)).toBe('here')
    const [conflict] = shard.regionLedger.conflicts()
    expect(conflict).toMatchObject({
      id: 'items.us.items-1-0.4.1',
      documentId: '1',
      status: 'resolved',
      resolution: 'lww',
      winner: { region: 'eu', hlc: { wallMs: 2000, logical: 0 }, document: { id: 1, title: 'here' } },
      loser: { region: 'us', hlc: { wallMs: 1500, logical: 0 }, document: { id: 1, title: 'there' } },
      detectedAtMs: AT_MS,
    })
    // The position moves even though nothing of the entry applied.
    expect(shard.regionLedger.appliedOf('us', 'items', 'items-1-0')).toBe(4)
  })

  it('replaces a local version with a concurrent later remote write, logging the local one as loser (manual stays open)', async () => {
    const shard = await replica()
    await shard.apply(entry(1, create, local(1000)))
    await shard.apply(entry(2, put(1, 'here'), local(2000)))
    await shard.apply(entry(3, put(1, 'there'), { ...remote(4, 2500), manual: true }))
    expect(await titleOf(shard, 1)).toBe('there')
    expect(shard.regionLedger.conflicts()).toMatchObject([
      {
        status: 'open',
        resolution: null,
        winner: { region: 'us' },
        loser: { region: 'eu', document: { title: 'here' } },
      },
    ])
  })

  it('skips a remote entry at or below the position of its shard (a re-sent part)', async () => {
    const shard = await replica()
    await shard.apply(entry(1, create, local(1000)))
    await shard.apply(entry(2, put(1, 'v5'), remote(5, 5000)))
    await shard.apply(entry(3, put(1, 'v3 again'), remote(3, 9000)))
    await shard.apply(entry(4, put(1, 'v5 again'), remote(5, 9000)))
    expect(await titleOf(shard, 1)).toBe('v5')
    expect(shard.regionLedger.versionOf('items', '1')?.hlc.wallMs).toBe(5000)
    expect(shard.regionLedger.conflicts()).toEqual([])
  })

  it('moves the position of a remote shard on an empty part (none of its documents hash here)', async () => {
    const shard = await replica()
    await shard.apply(entry(1, create, local(1000)))
    const empty: Command = {
      type: 'addDocuments',
      uid: 'items',
      documents: [],
      primaryKey: 'id',
      merge: false,
      at: AT,
    }
    await shard.apply(entry(2, empty, remote(9, 5000)))
    expect(shard.regionLedger.appliedOf('us', 'items', 'items-1-0')).toBe(9)
  })

  it('moves the position past a remote write the engine refused, recording no version', async () => {
    const shard = await replica()
    await shard.apply(entry(1, create, local(1000)))
    const bad: Command = {
      type: 'addDocuments',
      uid: 'items',
      documents: [{ id: 'not ok!', title: 'x' }],
      primaryKey: 'id',
      merge: false,
      at: AT,
    }
    const outcome = (await shard.apply(entry(2, bad, remote(3, 5000)))) as ShardOutcome
    expect(outcome.ok).toBe(false)
    expect(shard.regionLedger.appliedOf('us', 'items', 'items-1-0')).toBe(3)
    expect(shard.regionLedger.versionOf('items', 'not ok!')).toBeUndefined()
    expect(shard.regionLedger.headOf('items')).toBe(1)
  })

  it('is the same on two replicas that applied the same entries, and travels in the snapshot image', async () => {
    const log = [
      entry(1, create, local(1000)),
      entry(2, put(1, 'a'), local(1001)),
      entry(3, put(1, 'b'), remote(1, 900)),
      entry(4, put(2, 'c'), remote(2, 5000)),
      entry(5, { type: 'deleteDocuments', uid: 'items', ids: [1], at: AT }, local(1002)),
    ]
    const [one, two] = [await replica(), await replica()]
    for (const e of log) {
      await one.apply(e)
      await two.apply(e)
    }
    expect(two.regionLedger.toImage()).toEqual(one.regionLedger.toImage())
    const image = await one.snapshot()
    const fresh = await replica()
    await fresh.restore(image)
    expect(fresh.regionLedger.toImage()).toEqual(one.regionLedger.toImage())
    expect(fresh.regionLedger.conflicts()).toHaveLength(1)
    // The restored replica goes on numbering after the snapshot's entries.
    await fresh.apply(entry(6, put(3, 'd'), local(1003)))
    const fed = fresh.regionLedger.feedAfter('items', 5, 10)
    expect(fed.ok && fed.entries.map((e) => [e.seq, e.after])).toEqual([[6, 5]])
  })

  it('answers compacted for a gap older than the entries it retains', async () => {
    const shard = await replica(2)
    await shard.apply(entry(1, create, local(1000)))
    await shard.apply(entry(2, put(1, 'a'), local(1001)))
    await shard.apply(entry(3, put(2, 'b'), local(1002)))
    expect(shard.regionLedger.feedAfter('items', 0, 10)).toEqual({ ok: false, reason: 'compacted' })
    const fed = shard.regionLedger.feedAfter('items', 1, 10)
    expect(fed.ok && fed.entries.map((e) => e.seq)).toEqual([2, 3])
  })

  it('retains feed entries by bytes as well as by count, the same after a snapshot', async () => {
    const big = (id: number): Command => ({ ...put(id, 'x'.repeat(3000)) })
    const log = [
      entry(1, create, local(1000)),
      ...[1, 2, 3, 4, 5].map((id) => entry(id + 1, big(id), local(1000 + id))),
    ]
    const perEntry = log[1]!.data.byteLength
    // Room for two of the large entries (and the small creation), not three.
    const shard = await replica(100, 2 * perEntry + 200)
    for (const e of log) await shard.apply(e)
    const { entries, bytes } = shard.regionLedger.retained()
    expect(entries).toBe(2)
    expect(bytes).toBeLessThanOrEqual(2 * perEntry + 200)
    expect(shard.regionLedger.feedAfter('items', 3, 10)).toEqual({ ok: false, reason: 'compacted' })
    const fed = shard.regionLedger.feedAfter('items', 4, 10)
    expect(fed.ok && fed.entries.map((e) => e.seq)).toEqual([5, 6])
    // A replica restored from the image trims the same way from there on.
    const fresh = await replica(100, 2 * perEntry + 200)
    await fresh.restore(await shard.snapshot())
    expect(fresh.regionLedger.retained()).toEqual(shard.regionLedger.retained())
    const next = entry(7, big(6), local(1010))
    await shard.apply(next)
    await fresh.apply(next)
    expect(fresh.regionLedger.toImage()).toEqual(shard.regionLedger.toImage())
    expect(fresh.regionLedger.retained().entries).toBe(2)
    // One entry larger than the whole budget is still kept (the newest always is).
    const tiny = await replica(100, 10)
    await tiny.apply(entry(1, create, local(1000)))
    await tiny.apply(entry(2, big(1), local(1001)))
    expect(tiny.regionLedger.retained().entries).toBe(1)
    expect(tiny.regionLedger.headOf('items')).toBe(2)
  })

  it('applies a remote part that carries no task, once (the ledger deduplicates it)', async () => {
    const shard = await replica()
    await shard.apply(entry(1, create, local(1000)))
    const bare = (index: number, title: string, seq: number) => ({
      kind: 'normal' as const,
      term: 1,
      index,
      data: encodeShardEntry({ taskUids: [], command: put(1, title), region: remote(seq, 5000 + seq) }),
    })
    expect(await shard.apply(bare(2, 'first', 1))).toMatchObject({ ok: true })
    await shard.apply(bare(3, 'replayed', 1))
    expect(await titleOf(shard, 1)).toBe('first')
    await shard.apply(bare(4, 'second', 2))
    expect(await titleOf(shard, 1)).toBe('second')
    // A local write still needs its task.
    const untasked = {
      kind: 'normal' as const,
      term: 1,
      index: 5,
      data: encodeShardEntry({ taskUids: [], command: put(1, 'x'), region: local(9000) }),
    }
    expect(await shard.apply(untasked)).toMatchObject({ ok: false, message: 'malformed shard entry' })
  })

  it('refuses an entry whose region tag is malformed, changing nothing', async () => {
    const shard = await replica()
    await shard.apply(entry(1, create, local(1000)))
    const bad = { kind: 'remote', origin: 'us', originShard: 'x', seq: -1, wallMs: 1, logical: 0, prev: [] }
    const outcome = (await shard.apply(
      entry(2, put(1, 'a'), bad as unknown as ShardRegionTag),
    )) as ShardOutcome
    expect(outcome).toMatchObject({ ok: false, message: 'malformed shard entry' })
    expect(await titleOf(shard, 1)).toBeNull()
  })
})

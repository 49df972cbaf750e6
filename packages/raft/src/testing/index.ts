// Compliance suites for the ports of @shoal/raft, to run against any implementation.
import type { ConfState, Entry, RaftStorage, Snapshot } from '../index.ts'

/** The test functions the suite runs on (vitest's or jest's `it` and `expect` fit). */
export interface ComplianceHarness {
  it(name: string, fn: () => Promise<void>): void
  expect(actual: unknown): { toEqual(expected: unknown): void; toBe(expected: unknown): void }
}

const normal = (index: number, term: number, text: string): Entry => ({
  kind: 'normal',
  index,
  term,
  data: new TextEncoder().encode(text),
})

const texts = (entries: readonly Entry[]): string[] =>
  entries.map((e) =>
    e.kind === 'normal'
      ? `${e.index}/${e.term}/${new TextDecoder().decode(e.data)}`
      : `${e.index}/${e.term}/conf`,
  )

/**
 * The behaviour every `RaftStorage` must show; run against each implementation.
 * `open(conf)` opens a fresh store (founding member when conf has voters);
 * `reopen()` simulates a restart of the same store.
 */
export function storageCompliance(
  harness: ComplianceHarness,
  open: (conf: ConfState) => Promise<RaftStorage>,
  reopen: (storage: RaftStorage) => Promise<RaftStorage>,
): void {
  const { it, expect } = harness
  const conf = { voters: ['a', 'b', 'c'], learners: [] }

  it('starts a founding member with the membership as committed entries at term 1', async () => {
    const storage = await open(conf)
    const state = await storage.load()
    expect(state.hardState).toEqual({ term: 1, vote: null, commit: 3 })
    expect(state.entries.map((e) => (e.kind === 'conf' ? e.change : null))).toEqual([
      { type: 'addVoter', node: 'a' },
      { type: 'addVoter', node: 'b' },
      { type: 'addVoter', node: 'c' },
    ])
    await storage.close()
  })

  it('recovers saved entries and the last hard state', async () => {
    let storage = await open(conf)
    await storage.load()
    await storage.save({
      hardState: { term: 2, vote: 'a', commit: 3 },
      entries: [normal(4, 2, 'x'), normal(5, 2, 'y')],
      snapshot: null,
    })
    await storage.save({ hardState: { term: 2, vote: 'a', commit: 5 }, entries: [], snapshot: null })
    storage = await reopen(storage)
    const state = await storage.load()
    expect(state.hardState).toEqual({ term: 2, vote: 'a', commit: 5 })
    expect(texts(state.entries.slice(3))).toEqual(['4/2/x', '5/2/y'])
    await storage.close()
  })

  it('replaces a conflicting suffix and keeps the hard state across the truncation', async () => {
    let storage = await open(conf)
    await storage.load()
    await storage.save({
      hardState: { term: 2, vote: 'b', commit: 3 },
      entries: [normal(4, 2, 'x'), normal(5, 2, 'y'), normal(6, 2, 'z')],
      snapshot: null,
    })
    await storage.save({ hardState: null, entries: [normal(5, 3, 'w')], snapshot: null })
    storage = await reopen(storage)
    const state = await storage.load()
    expect(texts(state.entries.slice(3))).toEqual(['4/2/x', '5/3/w'])
    expect(state.hardState).toEqual({ term: 2, vote: 'b', commit: 3 })
    await storage.close()
  })

  it('compacts the log behind a local snapshot', async () => {
    let storage = await open(conf)
    await storage.load()
    const entries = Array.from({ length: 10 }, (_, i) => normal(4 + i, 2, `v${i}`))
    await storage.save({ hardState: { term: 2, vote: null, commit: 13 }, entries, snapshot: null })
    const snapshot: Snapshot = {
      meta: { index: 8, term: 2, confState: conf },
      data: new TextEncoder().encode('image'),
    }
    await storage.saveSnapshot(snapshot)
    await storage.save({ hardState: null, entries: [normal(14, 2, 'after')], snapshot: null })
    storage = await reopen(storage)
    const state = await storage.load()
    expect(state.snapshot.meta.index).toBe(8)
    expect(new TextDecoder().decode(state.snapshot.data)).toBe('image')
    expect(texts(state.entries)).toEqual(['9/2/v5', '10/2/v6', '11/2/v7', '12/2/v8', '13/2/v9', '14/2/after'])
    expect(state.hardState.commit).toBe(13)
    await storage.close()
  })

  it('installs a snapshot from the leader in place of the whole log', async () => {
    let storage = await open({ voters: [], learners: [] })
    await storage.load()
    const snapshot: Snapshot = {
      meta: { index: 100, term: 7, confState: conf },
      data: new Uint8Array([1, 2, 3]),
    }
    await storage.save({ hardState: { term: 7, vote: null, commit: 100 }, entries: [], snapshot })
    await storage.save({
      hardState: { term: 7, vote: null, commit: 101 },
      entries: [normal(101, 7, 'n')],
      snapshot: null,
    })
    storage = await reopen(storage)
    const state = await storage.load()
    expect(state.snapshot.meta).toEqual(snapshot.meta)
    expect([...state.snapshot.data]).toEqual([1, 2, 3])
    expect(texts(state.entries)).toEqual(['101/7/n'])
    expect(state.hardState).toEqual({ term: 7, vote: null, commit: 101 })
    await storage.close()
  })
}

import { describe, expect, it } from 'vitest'
import { bytes, CoreNet } from './core-net.ts'

// `RaftCore.advance(rd, { entriesDurable: false })`: the driver writes a leader's own appends in the
// background and reports them with `entriesPersisted`. Raft thesis §10.2.1: the leader may write
// in parallel with replication, and counts itself towards a quorum once its write is durable.

/** Three members, `a` leading; `a` proposes `value` and hands its Ready's entries to a background write. */
function proposeInBackground(value: string): { net: CoreNet; index: number; term: number } {
  const net = new CoreNet(['a', 'b', 'c'])
  net.elect('a')
  const a = net.core('a')
  a.propose(bytes(value))
  const rd = a.ready()
  expect(rd.messages).toEqual([])
  const last = rd.entries.at(-1)
  if (last === undefined) throw new Error('no entry to persist')
  a.advance(rd, { entriesDurable: false })
  for (const m of rd.earlyMessages) net.deliver(m)
  return { net, index: last.index, term: last.term }
}

describe('RaftCore: a leader writing its own entries in the background', () => {
  it("commits on both followers' acknowledgements while its own write runs, and counts itself only once told it is durable", () => {
    const { net, index, term } = proposeInBackground('x')
    net.settle()
    const a = net.core('a')
    expect(a.log.committed).toBe(index)
    expect(a.log.applied).toBe(index)
    expect(a.log.stableIndex).toBe(index - 1)
    expect(net.storages.get('a')?.entry(index)).toBeUndefined()
    a.entriesPersisted(index, term)
    expect(a.log.stableIndex).toBe(index)
  })

  it("does not commit on one follower's acknowledgement until its own write is durable", () => {
    const net = new CoreNet(['a', 'b', 'c'])
    net.elect('a')
    net.cut.add('c')
    const a = net.core('a')
    a.propose(bytes('x'))
    const rd = a.ready()
    const last = rd.entries.at(-1)
    if (last === undefined) throw new Error('no entry to persist')
    a.advance(rd, { entriesDurable: false })
    for (const m of rd.earlyMessages) net.deliver(m)
    net.settle()
    expect(a.log.committed).toBeLessThan(last.index)
    net.storages.get('a')?.saveSync(rd)
    a.entriesPersisted(last.index, last.term)
    net.settle()
    expect(a.log.committed).toBe(last.index)
  })

  it('hands entries being written out only once: the next Ready holds only what came after', () => {
    const { net, index } = proposeInBackground('x')
    const a = net.core('a')
    a.propose(bytes('y'))
    const rd = a.ready()
    expect(rd.entries.map((e) => e.index)).toEqual([index + 1])
    a.advance(rd)
  })

  it('refuses a background write of a Ready whose messages promise durable state (votes, acknowledgements)', () => {
    const net = new CoreNet(['a', 'b', 'c'])
    const a = net.core('a')
    a.campaign()
    const rd = a.ready()
    expect(rd.messages.length).toBeGreaterThan(0)
    expect(() => a.advance(rd, { entriesDurable: false })).toThrow(/background/)
  })

  it('ignores a report about entries that were replaced meanwhile', () => {
    const { net, index, term } = proposeInBackground('x')
    const a = net.core('a')
    a.entriesPersisted(index, term + 1)
    expect(a.log.stableIndex).toBe(index - 1)
    a.entriesPersisted(index, term)
    expect(a.log.stableIndex).toBe(index)
    net.settle()
  })
})

import { describe, expect, it } from 'vitest'
import { resolveRaftConfig } from '../src/core/index.ts'
import { RaftConfigError } from '../src/index.ts'
import { bytes, CoreNet } from './core-net.ts'

// `RaftCore.leaderUnreachable`: the driver saw the connection to the leader close. The follower
// campaigns within `leaderLossCampaignTicks` (3 by default) instead of an election timeout, and
// grants the campaigns of members that lost the leader too. Votes still follow Raft §5.2 and
// §5.4.1 (one vote per term, an up-to-date log), so safety never rests on the signal.

const E = 10 // election ticks in CoreNet
const L = 3 // the default leaderLossCampaignTicks

/** Three members, `a` leading with `values` committed; quiescence as asked. */
function group(quiesce: boolean, seed = 7): CoreNet {
  const net = new CoreNet(['a', 'b', 'c'], { quiesce }, seed)
  net.elect('a')
  for (const value of ['one', 'two']) {
    net.core('a').propose(bytes(value))
    net.settle()
  }
  net.tick(3)
  return net
}

const leaders = (net: CoreNet): string[] =>
  [...net.cores.entries()].filter(([id, c]) => !net.cut.has(id) && c.role === 'leader').map(([id]) => id)

describe('RaftCore.leaderUnreachable: the leader died', () => {
  for (const quiesce of [false, true]) {
    it(`followers that both lost it elect a new leader within leaderLossCampaignTicks plus a round, not an election timeout (quiesce: ${quiesce})`, () => {
      for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
        const net = group(quiesce, seed)
        const term = net.core('a').term
        const committed = net.core('a').log.committed
        net.cut.add('a')
        net.core('b').leaderUnreachable('a')
        net.core('c').leaderUnreachable('a')
        net.settle()
        const ticks = net.tickUntil(() => leaders(net).length === 1, 2 * E + L)
        // Both campaign within L ticks; of two rivals in the same tick, the higher id yields.
        expect(ticks).toBeLessThanOrEqual(L + 1)
        const winner = leaders(net)[0] as string
        expect(['b', 'c']).toContain(winner)
        expect(net.core(winner).term).toBeGreaterThan(term)
        // Raft §5.4: the new leader holds every committed entry.
        expect(net.core(winner).log.lastIndex()).toBeGreaterThanOrEqual(committed)
        net.core(winner).propose(bytes('after'))
        net.settle()
        net.tick(2)
        expect(net.core('b').log.committed).toBe(net.core('c').log.committed)
        expect(net.core('b').log.committed).toBeGreaterThan(committed)
      }
    })
  }

  it('over many seeds, every election ends within leaderLossCampaignTicks + 1 ticks (rivals with equal logs do not split the vote)', () => {
    let fast = 0
    for (let seed = 1; seed <= 40; seed++) {
      const net = group(true, seed)
      net.cut.add('a')
      net.core('b').leaderUnreachable('a')
      net.core('c').leaderUnreachable('a')
      if (net.tickUntil(() => leaders(net).length === 1, 3 * E) <= L + 1) fast++
    }
    expect(fast).toBe(40)
  })

  it('without the signal, a follower of an awake group waits out its election timeout (the stickiness it lifts)', () => {
    const net = group(false)
    net.cut.add('a')
    const ticks = net.tickUntil(() => leaders(net).length === 1, 3 * E)
    expect(ticks).toBeGreaterThanOrEqual(E)
  })
})

describe('RaftCore.leaderUnreachable: a spurious signal while the leader lives', () => {
  it('at one follower: no term changes, and it follows the same leader again', () => {
    for (const quiesce of [false, true]) {
      const net = group(quiesce)
      const term = net.core('a').term
      net.core('b').leaderUnreachable('a')
      net.settle()
      net.tick(L + 1)
      // Awake, the leader's next heartbeat ends the signal before `b` campaigns; quiesced, `b`
      // campaigns (a pre-vote, which wakes the leader) and nobody grants it.
      const campaigned = net.sent.some((m) => m.type === 'vote' && m.from === 'b' && m.pre)
      expect(campaigned).toBe(quiesce)
      expect(net.sent.some((m) => m.type === 'voteResponse' && m.to === 'b' && !m.reject)).toBe(false)
      net.tick(2)
      for (const id of ['a', 'b', 'c']) {
        expect(net.core(id).term).toBe(term)
        expect(net.core(id).leader).toBe('a')
      }
      expect(leaders(net)).toEqual(['a'])
    }
  })

  it('a member that lost the leader but heard from it since no longer grants a campaign', () => {
    const net = group(false)
    const term = net.core('a').term
    net.core('c').leaderUnreachable('a')
    // A heartbeat from `a` reaches `c` after the signal: the connection is back.
    net.tick(1)
    net.core('b').leaderUnreachable('a')
    net.settle()
    net.tick(L + 1)
    expect(net.sent.some((m) => m.type === 'voteResponse' && m.to === 'b' && !m.reject)).toBe(false)
    expect(net.core('c').term).toBe(term)
    expect(leaders(net)).toEqual(['a'])
  })

  it('a signal about a peer that is not the leader changes nothing', () => {
    const net = group(true)
    const before = net.sent.length
    net.core('b').leaderUnreachable('c')
    net.core('a').leaderUnreachable('b')
    net.settle()
    net.tick(3 * E)
    expect(net.sent.length).toBe(before)
    expect(net.core('b').quiesced).toBe(true)
  })

  it('both followers at once with the leader alive: at most one leader per term, and nothing committed is lost', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const net = group(false, seed)
      const committed = net.core('a').log.committed
      net.core('b').leaderUnreachable('a')
      net.core('c').leaderUnreachable('a')
      const byTerm = new Map<number, Set<string>>()
      for (let t = 0; t < 4 * E; t++) {
        net.tick()
        for (const [id, core] of net.cores) {
          if (core.role !== 'leader') continue
          const seen = byTerm.get(core.term) ?? new Set<string>()
          seen.add(id)
          byTerm.set(core.term, seen)
        }
      }
      for (const seen of byTerm.values()) expect(seen.size).toBe(1)
      const leader = net.core(leaders(net)[0] as string)
      leader.propose(bytes('later'))
      net.settle()
      net.tick(2)
      for (const core of net.cores.values()) expect(core.log.committed).toBeGreaterThan(committed)
    }
  })
})

describe('leaderLossCampaignTicks', () => {
  it('must be a positive integer no larger than electionTicks', () => {
    expect(resolveRaftConfig({ id: 'a' }).leaderLossCampaignTicks).toBe(3)
    expect(() => resolveRaftConfig({ id: 'a', leaderLossCampaignTicks: 0 })).toThrow(RaftConfigError)
    expect(() => resolveRaftConfig({ id: 'a', electionTicks: 4, leaderLossCampaignTicks: 5 })).toThrow(
      /must not exceed electionTicks/,
    )
  })
})

describe('RaftCore.peerUnreachable: the links to a live leader closed', () => {
  it('the leader stops counting those followers toward its lease at once, so it serves no lease read while they elect another leader', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const net = new CoreNet(['a', 'b', 'c'], { leaseReads: true }, seed)
      net.elect('a')
      net.core('a').propose(bytes('one'))
      net.settle()
      net.tick(1)
      // Before the links close, the lease holds: a read is confirmed at once.
      net.core('a').readIndex('before')
      const before = net.core('a').ready()
      expect(before.readStates.map((r) => r.context)).toEqual(['before'])
      net.core('a').advance(before)
      // Both links of the leader close; each end of each is told.
      net.cut.add('a')
      net.core('a').peerUnreachable('b')
      net.core('a').peerUnreachable('c')
      net.core('b').peerUnreachable('a')
      net.core('c').peerUnreachable('a')
      // The followers may elect another leader within a few ticks, well inside the half
      // election timeout the lease counted on; the old leader must confirm no read meanwhile.
      const states: string[] = []
      for (let i = 0; i < L + 2; i++) {
        const a = net.core('a')
        a.readIndex(`stale-${i}`)
        const rd = a.ready()
        states.push(...rd.readStates.map((r) => r.context))
        a.advance(rd)
        net.tick(1)
      }
      expect(states).toEqual([])
      expect(leaders(net)).toHaveLength(1)
      expect(leaders(net)[0]).not.toBe('a')
    }
  })

  it('a follower told its leader is unreachable drops the read lease it holds from it', () => {
    const net = new CoreNet(
      ['a', 'b', 'c'],
      { leaseReads: true, followerLeaseTicks: 5, followerLeaseDriftMargin: 0.2 },
      3,
    )
    net.elect('a')
    net.core('a').propose(bytes('one'))
    net.settle()
    const b = net.core('b')
    for (let i = 0; i < 6 && b.followerReadIndex() === null; i++) {
      b.noteLocalRead()
      net.settle()
      net.tick(1)
    }
    expect(b.followerReadIndex()).not.toBeNull()
    b.peerUnreachable('a')
    expect(b.followerReadIndex()).toBeNull()
  })
})

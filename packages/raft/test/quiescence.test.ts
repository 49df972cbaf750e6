import { Rng } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import { type Message, RaftCore, resolveRaftConfig } from '../src/core/index.ts'
import { MemoryRaftStorage } from '../src/storage.ts'
import { bytes, CoreNet } from './core-net.ts'

const E = 10 // election ticks in CoreNet

/** Three members, `a` leading, quiescence on, everything caught up and quiet. */
function quietGroup(seed = 7): CoreNet {
  const net = new CoreNet(['a', 'b', 'c'], { quiesce: true }, seed)
  net.elect('a')
  net.tickUntil(() => ['a', 'b', 'c'].every((id) => net.core(id).quiesced), 5)
  return net
}

const allQuiesced = (net: CoreNet, ids: string[]): boolean => ids.every((id) => net.core(id).quiesced)
const appliedEverywhere = (net: CoreNet, ids: string[], index: number): boolean =>
  ids.every((id) => net.core(id).log.applied >= index)

describe('quiescence of an idle group', () => {
  it('a caught-up leader sends one quiescing heartbeat per follower, then its group sends nothing', () => {
    const net = quietGroup()
    const quiesce = net.sent.filter((m) => m.type === 'heartbeat' && m.quiesce)
    expect(quiesce.map((m) => m.to).sort()).toEqual(['b', 'c'])
    const before = net.sent.length
    net.tick(20 * E)
    expect(net.sent.length).toBe(before)
    expect(net.core('a').role).toBe('leader')
    expect(net.core('a').term).toBe(net.core('b').term)
  })

  it('a quiesced leader still reports every follower caught up, and a proposal that wakes it reaches them in one append each', () => {
    const net = quietGroup()
    const a = net.core('a')
    const last = a.log.lastIndex()
    expect(a.status().followers.map((f) => [f.id, f.match, f.state, f.lag])).toEqual([
      ['b', last, 'replicate', 0],
      ['c', last, 'replicate', 0],
    ])
    const before = net.sent.length
    const result = a.propose(bytes('after-quiet'))
    expect(result.ok).toBe(true)
    net.settle()
    // No probing round: the first append to each follower carries the new entry
    // right after the last index it held, as before the leader quiesced.
    const carrying = net.sent.slice(before).filter((m) => m.type === 'append' && m.entries.length > 0)
    expect(carrying.map((m) => [m.to, m.type === 'append' ? m.index : -1])).toEqual([
      ['b', last],
      ['c', last],
    ])
    expect(appliedEverywhere(net, ['a', 'b', 'c'], last + 1)).toBe(true)
  })

  it('a dead follower\u2019s progress outlives the leader\u2019s quiescence: on its return it is caught up from where it stopped', () => {
    const net = new CoreNet(['a', 'b', 'c'], { quiesce: true })
    net.elect('a')
    net.cut.add('c')
    for (const id of ['a', 'b']) net.core(id).setPeerLiveness('c', false)
    const first = net.core('a').propose(bytes('while-c-dead'))
    const index = first.ok ? first.index : -1
    net.tickUntil(() => allQuiesced(net, ['a', 'b']), 2 * E)
    const c = net
      .core('a')
      .status()
      .followers.find((f) => f.id === 'c')
    expect(c?.match).toBeLessThan(index)
    expect(c?.lag).toBeGreaterThan(0)
  })

  it('is off by default: a leader keeps heartbeating', () => {
    const net = new CoreNet(['a', 'b', 'c'])
    net.elect('a')
    net.tick(3)
    const before = net.sent.length
    net.tick(3)
    expect(net.sent.length).toBeGreaterThan(before)
    expect(net.core('a').quiesced).toBe(false)
  })

  it('a leader does not quiesce while a live follower lags', () => {
    const net = new CoreNet(['a', 'b', 'c'], { quiesce: true })
    net.elect('a')
    net.cut.add('c')
    net.core('a').propose(bytes('x'))
    net.tick(3 * E)
    expect(net.core('a').quiesced).toBe(false)
    expect(
      net
        .core('a')
        .status()
        .followers.find((f) => f.id === 'c')?.lag,
    ).toBeGreaterThan(0)
  })

  it('a lease-reading leader stays awake for an election timeout after a read, so the next read needs no heartbeat round', () => {
    const net = new CoreNet(['a', 'b', 'c'], { quiesce: true, leaseReads: true })
    net.elect('a')
    net.tickUntil(() => allQuiesced(net, ['a', 'b', 'c']), 5)
    const a = net.core('a')
    // Waking voided the lease: the first read confirms leadership with a heartbeat round.
    a.readIndex('first')
    const woken = a.ready()
    expect(woken.readStates).toEqual([])
    expect(woken.earlyMessages.some((m) => m.type === 'heartbeat' && m.context === 'first')).toBe(true)
    a.advance(woken)
    net.settle()
    net.tick(E - 2)
    expect(a.quiesced).toBe(false)
    a.readIndex('second')
    const leased = a.ready()
    expect(leased.readStates).toEqual([{ index: a.log.committed, context: 'second' }])
    const confirming = leased.earlyMessages
      .concat(leased.messages)
      .filter((m) => m.type === 'heartbeat' && m.context === 'second')
    expect(confirming).toEqual([])
    a.advance(leased)
    net.settle()
    // No read for an election timeout: the group falls quiet again.
    net.tickUntil(() => allQuiesced(net, ['a', 'b', 'c']), E + 5)
  })

  it('a follower whose log does not end at the quiesce point stays awake, and its timeout brings the group back to quiet', () => {
    const net = quietGroup()
    const a = net.core('a')
    const b = net.core('b')
    const term = a.term
    b.wake()
    // A stale quiesce naming an index b does not end at: b treats it as a heartbeat and answers.
    net.deliver({ type: 'heartbeat', from: 'a', to: 'b', term, commit: 1, context: null, quiesce: true })
    expect(b.quiesced).toBe(false)
    expect((net.sent.at(-1) as Message).type).toBe('heartbeatResponse')
    net.settle()
    // An answer to a heartbeat is no news: the leader stays quiet.
    expect(a.quiesced).toBe(true)
    // b's pre-vote wakes the leader, whose heartbeat and next quiesce settle b again, in the same term.
    net.tickUntil(() => allQuiesced(net, ['a', 'b', 'c']), 3 * E)
    expect(a.role).toBe('leader')
    expect(b.term).toBe(term)
  })

  it('the leader\u2019s own entries count towards commitment only once durable (Raft thesis \u00a710.2.1)', () => {
    const net = new CoreNet(['solo'], { quiesce: false })
    net.elect('solo')
    const core = net.core('solo')
    const result = core.propose(bytes('x'))
    expect(result.ok).toBe(true)
    const rd = core.ready()
    expect(rd.entries).toHaveLength(1)
    expect(rd.committedEntries).toHaveLength(0)
    core.advance(rd)
    expect(core.log.committed).toBe(rd.entries[0]?.index)
  })

  it('a leader\u2019s appends of a durable term are early messages; votes and acknowledgements are not', () => {
    const net = new CoreNet(['a', 'b', 'c'])
    net.elect('a')
    net.core('a').propose(bytes('x'))
    const rd = net.core('a').ready()
    expect(rd.earlyMessages.map((m) => m.type)).toEqual(['append', 'append'])
    expect(rd.messages).toEqual([])
    net.core('a').advance(rd)
    net.core('b').campaign()
    const vote = net.core('b').ready()
    expect(vote.earlyMessages).toEqual([])
    expect(vote.messages.every((m) => m.type === 'vote')).toBe(true)
  })
})

describe('quiescence races (each converges within one election timeout of the next request)', () => {
  it('a follower ticks, receives the quiesce message, then processes its Ready, and stays quiesced (CockroachDB #9372)', () => {
    const net = new CoreNet(['a', 'b', 'c'], { quiesce: true })
    net.elect('a')
    net.holdFrom = 'a'
    net.core('a').tick()
    net.process('a')
    net.holdFrom = null
    const quiesceToB = net.held.find((m) => m.to === 'b' && m.type === 'heartbeat' && m.quiesce)
    expect(quiesceToB).toBeDefined()
    const b = net.core('b')
    b.tick()
    b.step(quiesceToB as Message)
    net.process('b')
    expect(b.quiesced).toBe(true)
    for (const m of net.held) if (m !== quiesceToB) net.deliver(m)
    const before = net.sent.length
    const term = b.term
    net.tick(20 * E)
    expect(net.sent.length).toBe(before)
    expect(b.term).toBe(term)
    const proposed = net.core('a').propose(bytes('next'))
    const index = proposed.ok ? proposed.index : -1
    expect(net.tickUntil(() => appliedEverywhere(net, ['a', 'b', 'c'], index), E)).toBeLessThanOrEqual(E)
    net.tickUntil(() => allQuiesced(net, ['a', 'b', 'c']), E)
  })

  it('a quiesced leader dies: the followers, told by node liveness, elect a new leader and commit the next request within one election timeout', () => {
    const net = quietGroup()
    net.cut.add('a')
    for (const id of ['b', 'c']) net.core(id).setPeerLiveness('a', false)
    net.tickUntil(() => net.leader() !== undefined, E)
    const leader = net.leader()
    expect(leader?.id).not.toBe('a')
    const proposed = leader?.propose(bytes('after')) ?? { ok: false }
    expect(proposed.ok).toBe(true)
    const index = proposed.ok ? proposed.index : -1
    expect(net.tickUntil(() => appliedEverywhere(net, ['b', 'c'], index), E)).toBeLessThanOrEqual(E)
    // The dead member does not keep the survivors awake.
    net.tickUntil(() => allQuiesced(net, ['b', 'c']), E)
  })

  it('a follower wakes the group with a proposal: it restarts its timer, and the forwarded proposal wakes the leader', () => {
    const net = quietGroup()
    const b = net.core('b')
    const refused = b.propose(bytes('from-b'))
    expect(refused).toEqual({ ok: false, reason: 'notLeader', leader: 'a' })
    expect(b.quiesced).toBe(false)
    // What a host does with the refusal: forward to the leader named in it.
    const proposed = net.core('a').propose(bytes('from-b'))
    const index = proposed.ok ? proposed.index : -1
    expect(net.tickUntil(() => appliedEverywhere(net, ['a', 'b', 'c'], index), E)).toBeLessThanOrEqual(E)
    expect(net.core('a').role).toBe('leader')
    net.tickUntil(() => allQuiesced(net, ['a', 'b', 'c']), E)
  })

  it('a woken follower whose leader is silently gone campaigns and the group recovers', () => {
    const net = quietGroup()
    net.cut.add('a')
    net.core('b').wake()
    net.tickUntil(() => net.leader() !== undefined, 4 * E)
    expect(net.leader()?.id).not.toBe('a')
  })

  it('one replica\u2019s node is dead while the others quiesce, and the next request commits within one election timeout', () => {
    const net = new CoreNet(['a', 'b', 'c'], { quiesce: true })
    net.elect('a')
    net.cut.add('c')
    for (const id of ['a', 'b']) net.core(id).setPeerLiveness('c', false)
    const first = net.core('a').propose(bytes('while-c-dead'))
    expect(first.ok).toBe(true)
    net.tickUntil(() => allQuiesced(net, ['a', 'b']), 2 * E)
    const before = net.sent.length
    net.tick(20 * E)
    expect(net.sent.length).toBe(before)
    const next = net.core('a').propose(bytes('next'))
    const index = next.ok ? next.index : -1
    expect(net.tickUntil(() => appliedEverywhere(net, ['a', 'b'], index), E)).toBeLessThanOrEqual(E)
    net.tickUntil(() => allQuiesced(net, ['a', 'b']), E)
    // c returns: the leader wakes, catches it up and the whole group quiesces again.
    net.cut.delete('c')
    for (const id of ['a', 'b']) net.core(id).setPeerLiveness('c', true)
    net.tickUntil(() => appliedEverywhere(net, ['c'], index) && allQuiesced(net, ['a', 'b', 'c']), 3 * E)
    expect(net.core('a').role).toBe('leader')
  })

  it('a message from outside the group neither wakes a quiesced member nor changes anything, however long the group stays quiet', () => {
    const net = quietGroup()
    const term = net.core('a').term
    const last = net.core('b').log.lastIndex()
    for (let round = 0; round < 5; round++) {
      for (const to of ['a', 'b', 'c']) {
        net.deliver({
          type: 'heartbeat',
          from: 'x',
          to,
          term: term + 1,
          commit: last,
          context: null,
          quiesce: false,
        })
        net.deliver({
          type: 'vote',
          from: 'x',
          to,
          term: term + 1,
          pre: false,
          index: last + 5,
          logTerm: term + 1,
          transfer: true,
        })
      }
      net.tick(3 * E)
    }
    expect(allQuiesced(net, ['a', 'b', 'c'])).toBe(true)
    for (const id of ['a', 'b', 'c']) {
      expect(net.core(id).term).toBe(term)
      expect(net.core(id).leader).toBe('a')
      expect(net.core(id).status().outsiderMessagesIgnored).toBe(10)
    }
  })
  // Seen in a chaos run (moves-partition, seed 2 at 120 s): a shard group left with no leader for
  // good after a replica move, every member running. The newcomer missed its own promotion and the
  // old leader's removal while cut off; back, it still took itself for a learner following the
  // removed leader, and its clock stood still while quiesced, so it ignored every pre-vote of the
  // last voter as leader stickiness (thesis §4.2.3) — and a learner never campaigns itself.
  it('a learner cut off while promoted and while its leader removed itself votes for the remaining voter once back', () => {
    const net = new CoreNet(['a', 'b'], { quiesce: true })
    const storage = MemoryRaftStorage.bootstrap({ voters: [], learners: [] })
    net.storages.set('c', storage)
    net.cores.set(
      'c',
      new RaftCore({
        config: resolveRaftConfig({ id: 'c', electionTicks: E, heartbeatTicks: 1, quiesce: true }),
        rng: new Rng(3),
        ...storage.loadSync(),
      }),
    )
    net.elect('a')
    expect(net.core('a').proposeConfChange({ type: 'addLearner', node: 'c' }).ok).toBe(true)
    net.tickUntil(() => allQuiesced(net, ['a', 'b', 'c']), 5 * E)
    expect(net.core('c').leader).toBe('a')
    net.cut.add('c')
    expect(net.core('a').proposeConfChange({ type: 'addVoter', node: 'c' }).ok).toBe(true)
    net.settle()
    expect(net.core('a').proposeConfChange({ type: 'remove', node: 'a' }).ok).toBe(true)
    net.settle()
    expect(net.core('b').confState()).toEqual({ voters: ['b', 'c'], learners: [] })
    expect(net.core('c').confState()).toEqual({ voters: ['a', 'b'], learners: ['c'] })
    net.cut.delete('c')
    net.tickUntil(() => net.core('b').role === 'leader', 6 * E)
    const proposed = net.core('b').propose(bytes('after'))
    const index = proposed.ok ? proposed.index : -1
    net.tickUntil(() => appliedEverywhere(net, ['b', 'c'], index), E)
    expect(net.core('c').confState()).toEqual({ voters: ['b', 'c'], learners: [] })
  })
})

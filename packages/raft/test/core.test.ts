import { Rng } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import {
  type Message,
  majority,
  quorumIndex,
  type RaftConfig,
  RaftConfigError,
  RaftCore,
  resolveRaftConfig,
  voteOutcome,
} from '../src/core/index.ts'
import { MemoryRaftStorage } from '../src/storage.ts'

/** A synchronous network of cores: `settle()` delivers until quiet; links can be cut. */
class Net {
  readonly cores = new Map<string, RaftCore>()
  readonly storages = new Map<string, MemoryRaftStorage>()
  readonly cut = new Set<string>()
  readonly log: Message[] = []
  #queue: Message[] = []

  constructor(ids: string[], overrides: Partial<RaftConfig> = {}, seed = 7) {
    const rng = new Rng(seed)
    for (const id of ids) {
      const storage = MemoryRaftStorage.bootstrap({ voters: ids, learners: [] })
      this.storages.set(id, storage)
      const config = resolveRaftConfig({ id, electionTicks: 10, heartbeatTicks: 1, ...overrides })
      this.cores.set(id, new RaftCore({ config, rng: rng.fork(), ...storage.loadSync() }))
    }
    this.drain()
  }

  core(id: string): RaftCore {
    return this.cores.get(id) as RaftCore
  }

  drain(): void {
    for (const [id, core] of this.cores) {
      while (core.hasReady()) {
        const rd = core.ready()
        this.storages.get(id)?.saveSync(rd)
        for (const m of [...rd.earlyMessages, ...rd.messages]) {
          this.log.push(m)
          if (!this.cut.has(m.from) && !this.cut.has(m.to)) this.#queue.push(m)
        }
        core.advance(rd)
      }
    }
  }

  settle(): void {
    this.drain()
    while (this.#queue.length > 0) {
      const m = this.#queue.shift() as Message
      this.cores.get(m.to)?.step(m)
      this.drain()
    }
  }

  tick(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const core of this.cores.values()) core.tick()
      this.settle()
    }
  }

  elect(id: string): void {
    this.core(id).campaign()
    this.settle()
    expect(this.core(id).role).toBe('leader')
  }
}

const data = (text: string) => new TextEncoder().encode(text)

describe('quorum arithmetic against naive oracles', () => {
  it('quorumIndex is the largest index a majority has reached', () => {
    const rng = new Rng(3)
    for (let trial = 0; trial < 2000; trial++) {
      const matches = Array.from({ length: rng.range(1, 7) }, () => rng.int(20))
      let oracle = 0
      for (let candidate = 0; candidate <= 20; candidate++)
        if (matches.filter((m) => m >= candidate).length >= majority(matches.length)) oracle = candidate
      expect(quorumIndex(matches)).toBe(oracle)
    }
  })

  it('voteOutcome wins at a majority, loses when a majority is out of reach', () => {
    for (let voters = 1; voters <= 7; voters++)
      for (let granted = 0; granted <= voters; granted++)
        for (let rejected = 0; granted + rejected <= voters; rejected++) {
          const need = Math.floor(voters / 2) + 1
          const expected = granted >= need ? 'won' : voters - rejected < need ? 'lost' : 'pending'
          expect(voteOutcome(voters, granted, rejected)).toBe(expected)
        }
  })
})

describe('RaftCore', () => {
  it('rejects impossible configuration with RaftConfigError', () => {
    expect(() => resolveRaftConfig({ id: 'a', electionTicks: 2, heartbeatTicks: 2 })).toThrow(RaftConfigError)
    expect(() => resolveRaftConfig({ id: 'a', leaseReads: true, checkQuorum: false })).toThrow(
      RaftConfigError,
    )
    expect(() => resolveRaftConfig({ id: 'a', maxInflightMessages: 0 })).toThrow(RaftConfigError)
  })

  it('elects a leader after an election timeout and replicates and commits a proposal (Raft §5.2, §5.3)', () => {
    const net = new Net(['a', 'b', 'c'])
    net.tick(30)
    const leaders = [...net.cores.values()].filter((c) => c.role === 'leader')
    expect(leaders).toHaveLength(1)
    const leader = leaders[0] as RaftCore
    const result = leader.propose(data('x'))
    expect(result.ok).toBe(true)
    net.settle()
    for (const core of net.cores.values())
      expect(core.log.committed).toBeGreaterThanOrEqual(result.ok ? result.index : 0)
  })

  it('a partitioned member running pre-votes does not raise its term (thesis §9.6)', () => {
    const net = new Net(['a', 'b', 'c'])
    net.elect('a')
    const term = net.core('c').term
    net.cut.add('c')
    net.tick(100)
    expect(net.core('c').term).toBe(term)
    net.cut.delete('c')
    net.tick(5)
    expect(net.core('a').role).toBe('leader')
  })

  it('a leader that loses its quorum steps down (CheckQuorum)', () => {
    const net = new Net(['a', 'b', 'c'])
    net.elect('a')
    net.cut.add('a')
    net.tick(25)
    expect(net.core('a').role).toBe('follower')
  })

  it('refuses proposals on followers and names the leader', () => {
    const net = new Net(['a', 'b', 'c'])
    net.elect('a')
    expect(net.core('b').propose(data('x'))).toEqual({ ok: false, reason: 'notLeader', leader: 'a' })
  })

  it('finds the match point of a diverged follower with few probes (fast back-tracking)', () => {
    const net = new Net(['a', 'b', 'c'], { checkQuorum: false })
    net.elect('a')
    // b is cut off while a leader of an abandoned term appends many entries it never commits.
    net.cut.add('a')
    for (let i = 0; i < 100; i++) net.core('a').propose(data(`lost-${i}`))
    net.drain()
    expect(net.core('a').log.lastIndex()).toBeGreaterThan(100)
    net.elect('b')
    // The new leader appends as many entries of its own term at the same indexes.
    for (let i = 0; i < 100; i++) net.core('b').propose(data(`kept-${i}`))
    net.settle()
    // A third leader starts probing a at the end of its long log, deep in the conflict.
    net.elect('c')
    net.cut.delete('a')
    net.log.length = 0
    net.tick(3)
    const rejections = net.log.filter((m) => m.type === 'appendResponse' && m.reject && m.from === 'a')
    expect(rejections.length).toBeGreaterThan(0)
    expect(rejections.length).toBeLessThanOrEqual(3)
    expect(net.core('a').log.lastIndex()).toBe(net.core('c').log.lastIndex())
  })

  it('limits append messages in flight per follower (flow control)', () => {
    const net = new Net(['a', 'b', 'c'], { maxInflightMessages: 2, maxMessageBytes: 1 })
    net.elect('a')
    net.cut.add('b')
    net.cut.add('c')
    net.log.length = 0
    for (let i = 0; i < 10; i++) net.core('a').propose(data(`e${i}`))
    net.drain()
    const appendsToB = net.log.filter((m) => m.type === 'append' && m.to === 'b' && m.entries.length > 0)
    expect(appendsToB.length).toBe(2)
  })

  it('limits entry bytes in flight per follower (flow control)', () => {
    const net = new Net(['a', 'b', 'c'], { maxInflightBytes: 100, maxMessageBytes: 1 })
    net.elect('a')
    net.cut.add('b')
    net.cut.add('c')
    net.log.length = 0
    for (let i = 0; i < 10; i++) net.core('a').propose(new Uint8Array(40))
    net.drain()
    // Each append carries one 56-byte entry; the second fills the 100-byte window.
    const appendsToB = net.log.filter((m) => m.type === 'append' && m.to === 'b' && m.entries.length > 0)
    expect(appendsToB.length).toBe(2)
  })

  it('confirms ReadIndex with a heartbeat round, or at once from the lease when enabled', () => {
    const safe = new Net(['a', 'b', 'c'])
    safe.elect('a')
    safe.core('a').readIndex('r1')
    const rd = safe.core('a').ready()
    expect(rd.readStates).toEqual([])
    expect(rd.earlyMessages.some((m) => m.type === 'heartbeat' && m.context === 'r1')).toBe(true)
    safe.core('a').advance(rd)
    const lease = new Net(['a', 'b', 'c'], { leaseReads: true })
    lease.elect('a')
    lease.tick(2)
    lease.core('a').readIndex('r1')
    expect(lease.core('a').ready().readStates).toEqual([
      { index: lease.core('a').log.committed, context: 'r1' },
    ])
  })

  it('a deposed leader cut off from the quorum confirms no read, with or without the lease', () => {
    for (const leaseReads of [false, true]) {
      const net = new Net(['a', 'b', 'c'], { leaseReads })
      net.elect('a')
      net.cut.add('a')
      // Past half an election timeout without hearing from anyone, the lease is gone too.
      for (let i = 0; i < 6; i++) net.core('a').tick()
      net.drain()
      expect(net.core('a').role).toBe('leader')
      const a = net.core('a')
      expect(a.readIndex('stale')).toBe(true)
      const states = []
      for (let i = 0; i < 3; i++) {
        const rd = a.ready()
        states.push(...rd.readStates)
        a.advance(rd)
        a.tick()
      }
      expect(states).toEqual([])
    }
  })

  it('transfers leadership with TimeoutNow and refuses proposals meanwhile', () => {
    const net = new Net(['a', 'b', 'c'])
    net.elect('a')
    net.cut.add('b')
    net.core('a').propose(data('x'))
    net.drain()
    expect(net.core('a').transferLeadership('b')).toBe(true)
    expect(net.core('a').propose(data('y'))).toMatchObject({ ok: false, reason: 'transferring' })
    net.cut.delete('b')
    net.tick(2)
    expect(net.core('b').role).toBe('leader')
  })

  it('promotes a learner to voter only once it has caught up', () => {
    const net = new Net(['a', 'b', 'c'])
    net.elect('a')
    net.cores.set(
      'd',
      new RaftCore({
        config: resolveRaftConfig({ id: 'd' }),
        rng: new Rng(1),
        ...MemoryRaftStorage.bootstrap({ voters: [], learners: [] }).loadSync(),
      }),
    )
    net.cut.add('d')
    expect(net.core('a').proposeConfChange({ type: 'addLearner', node: 'd' }).ok).toBe(true)
    net.settle()
    expect(net.core('a').confState().learners).toEqual(['d'])
    expect(net.core('a').proposeConfChange({ type: 'addVoter', node: 'd' })).toMatchObject({
      ok: false,
      reason: 'learnerBehind',
    })
    net.cut.delete('d')
    net.tick(3)
    expect(net.core('a').proposeConfChange({ type: 'addVoter', node: 'd' }).ok).toBe(true)
    net.settle()
    expect(net.core('d').confState().voters).toEqual(['a', 'b', 'c', 'd'])
  })

  it('ignores a sender outside the configuration while the leader is heard: no term raised, no leader deposed, no entry appended', () => {
    const net = new Net(['a', 'b', 'c'])
    net.elect('a')
    net.tick(2)
    const term = net.core('a').term
    const last = net.core('b').log.lastIndex()
    const lastTerm = net.core('b').log.term(last) as number
    const entry = { kind: 'normal' as const, term, index: last + 1, data: data('forged') }
    const forged: Message[] = [
      {
        type: 'append',
        from: 'x',
        to: 'b',
        term: term + 100,
        index: last,
        logTerm: lastTerm,
        entries: [],
        commit: 0,
      },
      {
        type: 'append',
        from: 'x',
        to: 'b',
        term,
        index: last,
        logTerm: lastTerm,
        entries: [entry],
        commit: last + 1,
      },
      { type: 'heartbeat', from: 'x', to: 'a', term: term + 5, commit: 0, context: null, quiesce: false },
      {
        type: 'vote',
        from: 'x',
        to: 'c',
        term: term + 1,
        pre: false,
        index: 1e9,
        logTerm: 1e9,
        transfer: true,
      },
      { type: 'timeoutNow', from: 'x', to: 'b', term },
    ]
    for (const m of forged) {
      net.core(m.to).step(m)
      net.settle()
    }
    for (const id of ['a', 'b', 'c']) {
      expect(net.core(id).term).toBe(term)
      expect(net.core(id).leader).toBe('a')
      expect(net.core(id).log.lastIndex()).toBe(last)
    }
    expect(net.log.some((m) => m.to === 'x')).toBe(false)
  })

  it('still finds a leader its configuration does not name once it lost its own leader for an election timeout', () => {
    const net = new Net(['a', 'b', 'c'])
    net.elect('a')
    const term = net.core('b').term
    const last = net.core('b').log.lastIndex()
    const heartbeat = (commit: number): Message => ({
      type: 'append',
      from: 'x',
      to: 'b',
      term: term + 1,
      index: last,
      logTerm: net.core('b').log.term(last) as number,
      entries: [],
      commit,
    })
    net.cut.add('a')
    net.cut.add('b')
    net.core('b').step(heartbeat(0))
    expect(net.core('b').leader).toBe('a')
    for (let i = 0; i < 10; i++) net.core('b').tick()
    net.core('b').step(heartbeat(0))
    expect(net.core('b').leader).toBe('x')
    expect(net.core('b').term).toBe(term + 1)
  })

  it('allows one membership change at a time', () => {
    const net = new Net(['a', 'b', 'c'])
    net.elect('a')
    net.cut.add('b')
    net.cut.add('c')
    expect(net.core('a').proposeConfChange({ type: 'addLearner', node: 'd' }).ok).toBe(true)
    expect(net.core('a').proposeConfChange({ type: 'addLearner', node: 'e' })).toMatchObject({
      ok: false,
      reason: 'confChangePending',
    })
    expect(net.core('a').proposeConfChange({ type: 'addVoter', node: 'a' })).toMatchObject({ ok: false })
  })
})

import { describe, expect, it } from 'vitest'
import { RaftConfigError, type RaftCore, resolveRaftConfig } from '../src/core/index.ts'
import { bytes, CoreNet } from './core-net.ts'

// Follower read leases (RaftConfig.followerLeaseTicks; src/core/read-lease.ts has the argument).
const LEASE = { leaseReads: true, followerLeaseTicks: 5, followerLeaseDriftMargin: 0.2 } as const
// A follower holds floor(5 × 0.8) − 1 = 3 ticks of its own clock from the tick it asked.

function leasedNet(overrides = {}): CoreNet {
  const net = new CoreNet(['a', 'b', 'c'], { ...LEASE, ...overrides })
  net.elect('a')
  net.tick(2)
  return net
}

/** Reads at `id` until it holds a lease; returns the lease's index. */
function lease(net: CoreNet, id: string): number {
  net.core(id).noteLocalRead()
  net.settle()
  const index = net.core(id).followerReadIndex()
  if (index === null) throw new Error(`${id} got no lease`)
  return index
}

/** One tick of a member whose links are cut (CoreNet leaves cut members' clocks alone). */
function tickCut(net: CoreNet, id: string): void {
  net.core(id).tick()
  net.process(id)
}

function propose(net: CoreNet, leader: RaftCore, text: string): number {
  const result = leader.propose(bytes(text))
  if (!result.ok) throw new Error(result.reason)
  net.settle()
  return result.index
}

describe('follower read leases', () => {
  it('a follower that reads is granted a lease carrying the leader commit index', () => {
    const net = leasedNet()
    const b = net.core('b')
    expect(b.followerReadIndex()).toBeNull()
    expect(lease(net, 'b')).toBe(net.core('a').log.committed)
    expect(b.log.applied).toBeGreaterThanOrEqual(b.followerReadIndex() as number)
    expect(net.core('a').status().leaseGrantsIssued).toBe(1)
    // The other follower asked for nothing and holds nothing.
    expect(net.core('c').followerReadIndex()).toBeNull()
  })

  it('reads keep renewing the lease; once they stop, it runs out within followerLeaseTicks plus the hold time', () => {
    const net = leasedNet()
    lease(net, 'b')
    for (let i = 0; i < 30; i++) {
      net.core('b').noteLocalRead()
      net.tick(1)
      expect(net.core('b').followerReadIndex(), `tick ${i}`).not.toBeNull()
    }
    // Renewals ride on answers to heartbeats while reads came within followerLeaseTicks.
    const ticks = net.tickUntil(() => net.core('b').followerReadIndex() === null, 20)
    expect(ticks).toBeLessThanOrEqual(LEASE.followerLeaseTicks + 3)
  })

  it('a write is acknowledged only once the leaseholder applied it, or once its cut-off lease ran out (its own lease ending first)', () => {
    const net = leasedNet()
    const a = net.core('a')
    const b = net.core('b')
    lease(net, 'b')
    const index = propose(net, a, 'x')
    // b holds a lease and applied the write: acknowledged at once.
    expect(b.log.applied).toBeGreaterThanOrEqual(index)
    expect(a.acknowledgedIndex).toBeGreaterThanOrEqual(index)

    lease(net, 'b')
    net.cut.add('b')
    const cutWrite = propose(net, a, 'y')
    expect(a.log.committed).toBeGreaterThanOrEqual(cutWrite)
    expect(a.acknowledgedIndex).toBeLessThan(cutWrite)
    let ticks = 0
    while (a.acknowledgedIndex < cutWrite) {
      net.tick(1)
      tickCut(net, 'b')
      ticks++
      // Read-your-writes: while b could serve, the write it lacks is not acknowledged.
      if (b.followerReadIndex() !== null) expect(a.acknowledgedIndex).toBeLessThan(cutWrite)
      expect(ticks).toBeLessThanOrEqual(LEASE.followerLeaseTicks)
    }
    expect(b.followerReadIndex()).toBeNull()
    expect(a.status().leaseGrantsExpired).toBeGreaterThan(0)
  })

  it('without a lease nothing is held back: acknowledged equals committed', () => {
    const net = leasedNet()
    const a = net.core('a')
    net.cut.add('c')
    const index = propose(net, a, 'x')
    expect(a.acknowledgedIndex).toBe(a.log.committed)
    expect(a.acknowledgedIndex).toBeGreaterThanOrEqual(index)
  })

  it('after a transfer, the new leader acknowledges nothing while a follower cut off may still hold the old leader lease', () => {
    const net = leasedNet()
    const c = net.core('c')
    lease(net, 'c')
    net.cut.add('c')
    expect(net.core('a').transferLeadership('b')).toBe(true)
    net.settle()
    const b = net.core('b')
    expect(b.role).toBe('leader')
    const index = propose(net, b, 'after transfer')
    expect(b.log.committed).toBeGreaterThanOrEqual(index)
    expect(b.acknowledgedIndex).toBeLessThan(index)
    let ticks = 0
    while (b.acknowledgedIndex < index) {
      if (c.followerReadIndex() !== null) expect(c.log.applied).toBeLessThan(index)
      net.tick(1)
      tickCut(net, 'c')
      ticks++
      expect(ticks).toBeLessThanOrEqual(LEASE.followerLeaseTicks + 1)
      if (c.followerReadIndex() !== null) expect(b.acknowledgedIndex).toBeLessThan(index)
    }
    expect(c.followerReadIndex()).toBeNull()
  })

  it('after a transfer heard by every member, the new leader acknowledges at once', () => {
    const net = leasedNet()
    lease(net, 'c')
    net.core('a').transferLeadership('b')
    net.settle()
    const b = net.core('b')
    expect(b.role).toBe('leader')
    net.tick(1)
    const index = propose(net, b, 'x')
    expect(b.acknowledgedIndex).toBeGreaterThanOrEqual(index)
  })

  it('a grant echoing a tick the follower never asked at (an earlier incarnation, a forgery) gives no lease', () => {
    const net = leasedNet()
    const a = net.core('a')
    const heartbeat = {
      type: 'heartbeat' as const,
      from: 'a',
      to: 'b',
      term: a.term,
      commit: a.log.committed,
      context: null,
      quiesce: false,
    }
    net.deliver({ ...heartbeat, lease: { requestTick: 1_000, index: 0 } })
    expect(net.core('b').followerReadIndex()).toBeNull()
    net.deliver({ ...heartbeat, lease: { requestTick: 1, index: 0 } })
    expect(net.core('b').followerReadIndex()).toBeNull()
  })

  it('an idle group without reads falls silent with no lease traffic; a read wakes it, and it falls silent again once reads stop', () => {
    const net = new CoreNet(['a', 'b', 'c'], { ...LEASE, quiesce: true })
    net.elect('a')
    net.tickUntil(() => net.core('a').quiesced && net.core('b').quiesced, 40)
    const before = net.sent.length
    net.tick(50)
    expect(net.sent.length).toBe(before)
    expect(net.sent.some((m) => 'leaseRequestTick' in m && m.leaseRequestTick !== undefined)).toBe(false)

    net.core('b').noteLocalRead()
    const woke = net.tickUntil(() => {
      net.core('b').noteLocalRead()
      net.settle()
      return net.core('b').followerReadIndex() !== null
    }, 5)
    expect(woke).toBeLessThanOrEqual(2)
    expect(net.core('a').quiesced).toBe(false)
    // Reads stop: the leases run out, then the group quiesces and b holds none.
    net.tickUntil(() => net.core('a').quiesced && net.core('b').quiesced, 60)
    expect(net.core('b').followerReadIndex()).toBeNull()
    expect(net.core('a').status().leaseGrantsLive).toBe(0)
  })

  it('a follower drops its lease when it hears a new term', () => {
    const net = leasedNet()
    lease(net, 'b')
    const a = net.core('a')
    net.cut.add('a')
    net.deliver({
      type: 'vote',
      from: 'c',
      to: 'b',
      term: a.term + 1,
      pre: false,
      index: a.log.lastIndex(),
      logTerm: a.term,
      transfer: true,
    })
    expect(net.core('b').term).toBe(a.term + 1)
    expect(net.core('b').followerReadIndex()).toBeNull()
  })

  it('rejects configurations that cannot hold a lease', () => {
    expect(() => resolveRaftConfig({ id: 'a', followerLeaseTicks: 5 })).toThrow(RaftConfigError)
    expect(() => resolveRaftConfig({ id: 'a', leaseReads: true, followerLeaseTicks: 2 })).toThrow(
      /no whole tick/,
    )
    expect(() =>
      resolveRaftConfig({ id: 'a', leaseReads: true, followerLeaseTicks: 5, followerLeaseDriftMargin: 1 }),
    ).toThrow(RaftConfigError)
    expect(() => resolveRaftConfig({ id: 'a', followerLeaseTicks: -1 })).toThrow(RaftConfigError)
    expect(resolveRaftConfig({ id: 'a', leaseReads: true, followerLeaseTicks: 5 }).followerLeaseTicks).toBe(5)
  })
})

import { afterEach, describe, expect, it } from 'vitest'
import { HostCluster } from './host-cluster.ts'
import { put } from './node-cluster.ts'

let cluster: HostCluster | null = null
afterEach(async () => {
  await cluster?.stop()
  cluster = null
})

/** Three hosts with group `g` (follower leases on), once it has a leader; `tickMs` is the nominal tick. */
async function leasedGroup(tickMs: number, quiesce = false) {
  const c = new HostCluster(['a', 'b', 'c'], { raft: { quiesce }, tickMs })
  cluster = c
  await c.addGroup('g', ['a', 'b', 'c'], { leaseReads: true, followerLeases: true })
  await c.tickUntil(() => c.leaderOf('g') !== null, 100)
  const leader = c.leaderOf('g') as string
  const follower = ['a', 'b', 'c'].find((id) => id !== leader) as string
  return { c, leader, follower, group: c.host(follower).group('g') }
}

describe('follower read leases per group', () => {
  it('a group added with followerLeases serves reads on its followers, and a write resolved through the leader is already applied on every follower that can serve', async () => {
    const c = new HostCluster(['a', 'b', 'c'], { raft: { quiesce: false }, tickMs: 60_000 })
    cluster = c
    await c.addGroup('g', ['a', 'b', 'c'], { leaseReads: true, followerLeases: true })
    await c.addGroup('plain', ['a', 'b', 'c'], { leaseReads: true })
    await c.tickUntil(() => c.leaderOf('g') !== null && c.leaderOf('plain') !== null, 100)
    const leader = c.leaderOf('g') as string
    const followers = ['a', 'b', 'c'].filter((id) => id !== leader)
    const leaseRead = (id: string, group = 'g'): boolean => c.host(id).group(group)?.leaseRead() ?? false
    await c.tickUntil(() => followers.every((id) => leaseRead(id)), 30)
    let checked = 0
    for (let i = 0; i < 20; i++) {
      let done = false
      const written = c
        .host(leader)
        .propose('g', put('k', `v${i}`))
        .then(() => {
          done = true
        })
      await c.settle()
      if (!done) await c.tickUntil(() => done, 20)
      await written
      for (const id of followers) {
        if (!leaseRead(id)) continue
        checked++
        expect(c.machine(id, 'g').values.get('k'), `${id} after write ${i}`).toBe(`v${i}`)
      }
    }
    expect(checked).toBeGreaterThan(20)
    const status = c.host(leader).group('g')?.status()
    expect(status?.leaseGrantsIssued).toBeGreaterThan(0)
    // A group without follower leases never serves a follower read locally.
    const plainFollower = ['a', 'b', 'c'].find((id) => id !== c.leaderOf('plain')) as string
    await c.tick(3)
    expect(leaseRead(plainFollower, 'plain')).toBe(false)
  })

  it('a follower whose clock fell behind real time serves no local read until its ticks are punctual again', async () => {
    // Nominal 200 ms ticks, given by hand (faster): a pause of 1 s is five ticks the clock did not count.
    const { c, group } = await leasedGroup(200)
    await c.tickUntil(() => group?.leaseRead() === true, 30)
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    // The core still counts its lease valid (no tick came), but the node knows better.
    expect(group?.status().followerLease).not.toBeNull()
    expect(group?.leaseRead()).toBe(false)
    // The next tick drops the lease (RaftCore.clockSlipped); punctual ticks then bring a fresh one.
    await c.tickUntil(() => group?.leaseRead() === true, 30)
  })
})

describe('waiting for a follower read lease', () => {
  it('awaitLeaseRead asks for a lapsed lease and resolves once it is granted, without a tick', async () => {
    const { c, group } = await leasedGroup(60_000)
    await c.tickUntil(() => group?.leaseRead() === true, 30)
    // No reads for longer than a lease: it lapses and is not renewed.
    await c.tick(12)
    expect(group?.status().followerLease).toBeNull()
    // The messages flow without ticks (the in-memory network delivers them as they are sent).
    expect(await group?.awaitLeaseRead(5_000)).toBe(true)
    expect(group?.leaseRead()).toBe(true)
  })

  it('awaitLeaseRead answers false when no lease comes in time, and on the leader', async () => {
    const { c, leader, follower } = await leasedGroup(60_000)
    expect(await c.host(leader).group('g')?.awaitLeaseRead(20)).toBe(false)
    // The leader's answers are held back: the follower's request is never granted.
    c.hold = () => true
    const started = performance.now()
    expect(await c.host(follower).group('g')?.awaitLeaseRead(50)).toBe(false)
    expect(performance.now() - started).toBeGreaterThanOrEqual(45)
    c.hold = null
  })

  it('a follower whose ticks each come a little late keeps its lease: the lateness of ticks long past does not add up', async () => {
    // Nominal 200 ms ticks given every 210 ms: after 20 ticks the clock is a whole tick behind
    // real time, but within any lease's life (a few ticks) it is a fraction of one.
    const { c, group } = await leasedGroup(200)
    await c.tickUntil(() => group?.leaseRead() === true, 30)
    const started = performance.now()
    const lapsed: number[] = []
    for (let tick = 1; tick <= 30; tick++) {
      const due = started + tick * 210
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())))
      await c.tick()
      if (group?.leaseRead() !== true) lapsed.push(tick)
    }
    expect(lapsed).toEqual([])
  })

  it('a follower woken from quiescence after a long pause keeps the lease it asks for as ticks resume', async () => {
    // Nominal 200 ms ticks given by hand: the quiet second is no stalled clock, the group was asleep.
    const { c, group } = await leasedGroup(200, true)
    await c.tickUntil(() => group?.quiesced === true, 100)
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(await group?.awaitLeaseRead(5_000)).toBe(true)
    for (let i = 0; i < 3; i++) {
      await c.tick()
      expect(group?.leaseRead(), `tick ${i + 1} after waking`).toBe(true)
    }
  })
})

import { afterEach, describe, expect, it } from 'vitest'
import { HostCluster, itemsOf } from './host-cluster.ts'
import { put } from './node-cluster.ts'

let cluster: HostCluster | null = null
afterEach(async () => {
  await cluster?.stop()
  cluster = null
})

/** Raft messages sent so far, of every group. */
function raftMessages(c: HostCluster): number {
  return itemsOf(c.sent).filter((item) => item.kind === 'raft').length
}

describe('lease reads per group', () => {
  it('a group added with leaseReads answers reads on its leader without a round of messages; others still confirm', async () => {
    cluster = new HostCluster(['a', 'b', 'c'], { raft: { quiesce: false } })
    await cluster.addGroup('lease', ['a', 'b', 'c'], { leaseReads: true })
    await cluster.addGroup('plain', ['a', 'b', 'c'])
    for (const group of ['lease', 'plain']) {
      await cluster.tickUntil(() => cluster!.leaderOf(group) !== null, 100)
      const leader = cluster.host(cluster.leaderOf(group)!)
      const written = leader.propose(group, put('k', group))
      await cluster.tickUntil(
        () => cluster!.machine(cluster!.leaderOf(group)!, group).values.get('k') === group,
        50,
      )
      await written
      // Heartbeats within the lease: a quorum heard from the leader recently.
      await cluster.tick(3)
    }
    const readOn = async (group: string): Promise<number> => {
      const leader = cluster!.host(cluster!.leaderOf(group)!).group(group)!
      const before = raftMessages(cluster!)
      let done = false
      const read = leader.read().then(() => {
        done = true
      })
      await cluster!.settle()
      const sentWhileReading = raftMessages(cluster!) - before
      if (!done) await cluster!.tickUntil(() => done, 20)
      await read
      return done ? sentWhileReading : -1
    }
    expect(await readOn('lease')).toBe(0)
    expect(await readOn('plain')).toBeGreaterThan(0)
  })

  it('a leader serves a read at once under its lease (leaderLeaseRead), not once a quorum stopped hearing from it, and again when it is heard', async () => {
    // A nominal tick of a minute: the test ticks by hand, so the lease clock never runs late.
    cluster = new HostCluster(['a', 'b', 'c'], { raft: { quiesce: false }, tickMs: 60_000 })
    const c = cluster
    await c.addGroup('g', ['a', 'b', 'c'], { leaseReads: true, followerLeases: true })
    await c.tickUntil(() => c.leaderOf('g') !== null, 100)
    const leaderId = c.leaderOf('g')!
    const written = c.host(leaderId).propose('g', put('k', 'v'))
    await c.tickUntil(() => c.machine(leaderId, 'g').values.get('k') === 'v', 50)
    await written
    await c.tick(3)
    const leader = c.host(leaderId).group('g')!
    const follower = c.host(['a', 'b', 'c'].find((id) => id !== leaderId)!).group('g')!
    expect(leader.leaderLeaseRead()).toBe(true)
    expect(follower.leaderLeaseRead()).toBe(false)
    // Raft thesis §6.4.1: the lease lasts while a quorum heard from the leader within half an
    // election timeout (10 ticks here); with every frame held, it runs out after 5 ticks.
    c.hold = () => true
    await c.tick(6)
    expect(leader.isLeader).toBe(true)
    expect(leader.leaderLeaseRead()).toBe(false)
    c.hold = null
    c.release()
    await c.tickUntil(() => leader.leaderLeaseRead(), 10)
    expect(leader.leaderLeaseRead()).toBe(true)
  })
})

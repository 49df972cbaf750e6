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
})

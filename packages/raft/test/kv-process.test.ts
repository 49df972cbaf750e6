import { waitFor } from '@shoal/testkit/wait'
import { afterEach, describe, expect, it } from 'vitest'
import { KvProcessCluster } from '../examples/kv/cluster.ts'

interface MemberStatus {
  role: string
  commitIndex: number
  appliedIndex: number
  lastIndex: number
  snapshotIndex: number
  snapshotsInstalled: number
}

let cluster: KvProcessCluster | null = null
afterEach(async () => {
  await cluster?.stop()
  cluster = null
})

describe('example KV as three real processes', () => {
  it('kill -9 of the leader under write load: a new leader serves writes, no acknowledged write is lost, the restarted member catches up by snapshot', async () => {
    cluster = await KvProcessCluster.start({ tickMs: 20, electionTicks: 10, snapshotEntries: 100 })
    const client = cluster.client({ attemptTimeoutMs: 1000, deadlineMs: 20_000 })
    const acknowledged = new Map<string, string>()
    let writing = true
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; writing; i++) {
        const key = `w${w}-${i}`
        try {
          await client.put(key, `v${i}`)
          acknowledged.set(key, `v${i}`)
        } catch {
          // Outcome unknown: neither counted as acknowledged nor as lost.
        }
      }
    })
    const status = (id: string) => client.direct(cluster!.address(id), 'status') as Promise<MemberStatus>
    await waitFor('writes before the kill', () => acknowledged.size > 200, {
      timeoutMs: 40_000,
      intervalMs: 50,
    })
    const victim = await cluster.leader()
    const victimLast = (await status(victim)).lastIndex
    await cluster.kill(victim, 'SIGKILL')
    const atKill = acknowledged.size
    await waitFor('writes through a new leader', () => acknowledged.size > atKill + 400, {
      timeoutMs: 40_000,
      intervalMs: 50,
    })
    const successor = await cluster.leader()
    expect(successor).not.toBe(victim)
    // Under load the example batches more puts per entry: write on until the new leader's log is
    // compacted past all the killed member holds, so that it can only catch up by snapshot. The
    // member went on appending between its status and the kill: two snapshot intervals of margin.
    await waitFor(
      "the new leader's snapshot to pass the killed member's log",
      async () => (await status(successor)).snapshotIndex > victimLast + 200,
      { timeoutMs: 40_000, intervalMs: 50 },
    )
    writing = false
    await Promise.all(writers)

    await cluster.restart(victim)
    await waitFor(
      'the restarted member to catch up',
      async () => {
        const [lead, back] = await Promise.all([status(successor), status(victim)])
        return back.appliedIndex >= lead.commitIndex
      },
      { timeoutMs: 40_000, intervalMs: 50 },
    )
    const back = await status(victim)
    expect(
      back.snapshotsInstalled,
      `killed at about index ${victimLast}; now ${JSON.stringify(back)}; leader ${JSON.stringify(await status(successor))}`,
    ).toBeGreaterThan(0)

    // Every acknowledged write is there: linearizable reads through the leader,
    // and local reads on the member that was killed.
    const keys = [...acknowledged.keys()]
    for (let i = 0; i < keys.length; i += 64) {
      const slice = keys.slice(i, i + 64)
      const values = await Promise.all(slice.map((k) => client.get(k)))
      for (const [j, k] of slice.entries()) expect(values[j], k).toBe(acknowledged.get(k))
      const local = await Promise.all(slice.map((k) => client.direct(cluster!.address(victim), 'local', k)))
      for (const [j, k] of slice.entries()) expect(local[j], `${k} on ${victim}`).toBe(acknowledged.get(k))
    }
    client.close()
  }, 150_000)

  // The member's transport reports a closed or refused Raft connection (RaftNode.peerUnreachable):
  // a killed leader's sockets close at once, so its followers campaign within
  // leaderLossCampaignTicks (3) instead of a 3-6 s randomized election timeout.
  it('kill -9 of the leader: a follower whose connection to it closed elects a new leader within a few ticks, not an election timeout', async () => {
    cluster = await KvProcessCluster.start({ tickMs: 100, electionTicks: 30 })
    const client = cluster.client({ attemptTimeoutMs: 1000, deadlineMs: 20_000 })
    await client.put('before', 'v')
    const victim = await cluster.leader()
    const killedAt = performance.now()
    await cluster.kill(victim, 'SIGKILL')
    const successor = await cluster.leader(20_000)
    const elapsedMs = performance.now() - killedAt
    expect(successor).not.toBe(victim)
    // 3 ticks and an election round trip; an election timeout is at least 3,000 ms.
    expect(elapsedMs).toBeLessThan(2000)
    expect(await client.get('before')).toBe('v')
    client.close()
  }, 60_000)

  it('SIGSTOP of the leader: its connections stay open, so the followers wait out the election timeout', async () => {
    cluster = await KvProcessCluster.start({ tickMs: 50, electionTicks: 20 })
    const client = cluster.client({ attemptTimeoutMs: 1000, deadlineMs: 20_000 })
    await client.put('before', 'v')
    const victim = await cluster.leader()
    const pausedAt = performance.now()
    cluster.pause(victim)
    try {
      const successor = await cluster.leader(20_000)
      expect(successor).not.toBe(victim)
      // No signal: at least one election timeout (20 ticks of 50 ms) passes first.
      expect(performance.now() - pausedAt).toBeGreaterThanOrEqual(1000)
    } finally {
      cluster.resume(victim)
    }
    expect(await client.get('before')).toBe('v')
    client.close()
  }, 60_000)
})

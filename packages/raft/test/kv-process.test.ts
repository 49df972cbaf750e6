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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

async function until(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

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
    await until(() => acknowledged.size > 200, 40_000, 'writes before the kill')
    const victim = await cluster.leader()
    const victimLast = (await status(victim)).lastIndex
    await cluster.kill(victim, 'SIGKILL')
    const atKill = acknowledged.size
    await until(() => acknowledged.size > atKill + 400, 40_000, 'writes through a new leader')
    const successor = await cluster.leader()
    expect(successor).not.toBe(victim)
    // Under load the example batches more puts per entry: write on until the new leader's log is
    // compacted past all the killed member holds, so that it can only catch up by snapshot.
    await until(
      async () => (await status(successor)).snapshotIndex > victimLast + 1,
      40_000,
      "the new leader's snapshot to pass the killed member's log",
    )
    writing = false
    await Promise.all(writers)

    await cluster.restart(victim)
    await until(
      async () => {
        const [lead, back] = await Promise.all([status(successor), status(victim)])
        return back.appliedIndex >= lead.commitIndex
      },
      40_000,
      'the restarted member to catch up',
    )
    expect((await status(victim)).snapshotsInstalled).toBeGreaterThan(0)

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
})

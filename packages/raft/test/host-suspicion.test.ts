import { afterEach, describe, expect, it } from 'vitest'
import { RaftUnreachableError } from '../src/index.ts'
import { HostCluster } from './host-cluster.ts'
import { put } from './node-cluster.ts'

// `RaftHost.peerUnreachable`: the transport's connection-closed signal stands in for the
// heartbeats a quiesced group does not send. A suspicion only restarts election timers (Raft
// §5.2 with pre-vote, thesis §9.6), so it may cost an election, never a committed entry.

const E = 10 // election ticks; a follower campaigns after E to 2E-1 ticks without news
const NODES = ['h1', 'h2', 'h3']
let cluster: HostCluster | null = null
afterEach(async () => {
  await cluster?.stop()
  cluster = null
})

/** Three hosts, one group with `values` committed, every member quiesced. */
async function quietGroup(values: Record<string, string> = {}): Promise<HostCluster> {
  const c = new HostCluster(NODES)
  cluster = c
  await c.addGroup('g', NODES)
  await c.tickUntil(() => c.leaderOf('g') !== null, 4 * E)
  const leader = c.leaderOf('g') as string
  for (const [key, value] of Object.entries(values)) {
    const done = c.host(leader).propose('g', put(key, value))
    await c.tickUntil(() => NODES.every((id) => c.machine(id, 'g').values.get(key) === value), E)
    await done
  }
  await c.tickUntil(() => NODES.every((id) => c.host(id).metrics().quiescedGroups === 1), 4 * E)
  return c
}

const termOf = (c: HostCluster, id: string): number => c.host(id).group('g')?.status().term ?? -1
/** The leader among `ids` (a killed leader, no longer ticked, still believes it leads). */
const leaderAmong = (c: HostCluster, ids: string[]): string | undefined =>
  ids.find((id) => c.host(id).group('g')?.isLeader === true)

describe('RaftHost.peerUnreachable: a dead leader of a quiesced group', () => {
  it('is replaced within leaderLossCampaignTicks and two message rounds, without any liveness verdict', async () => {
    const c = await quietGroup({ before: 'kill' })
    const dead = c.leaderOf('g') as string
    const alive = NODES.filter((id) => id !== dead)
    c.network.isolate(dead)
    for (const id of alive) c.host(id).peerUnreachable(dead)
    await c.settle()
    for (const id of alive)
      expect(c.host(id).metrics()).toMatchObject({ unreachableNodes: 1, suspicionWakes: 1 })
    // Both survivors lost the leader's connection, so they campaign within 3 ticks (the default
    // leaderLossCampaignTicks) and grant each other; an election timeout is E to 2E-1 ticks.
    const ticks = await c.tickUntil(() => leaderAmong(c, alive) !== undefined, 2 * E + 2, [dead])
    expect(ticks).toBeLessThan(E)
    expect(c.host(alive[0] as string).metrics().deadNodes).toBe(0)
    const follower = alive.find((id) => id !== leaderAmong(c, alive)) as string
    const done = c.host(follower).propose('g', put('after', 'kill'))
    await c.tickUntil(() => alive.every((id) => c.machine(id, 'g').values.get('after') === 'kill'), E, [dead])
    await expect(done).resolves.toMatch(/^after@/)
    for (const id of alive) expect(c.machine(id, 'g').values.get('before')).toBe('kill')
  })

  it('without the signal, the followers stay quiet (the signal is what wakes them)', async () => {
    const c = await quietGroup()
    const dead = c.leaderOf('g') as string
    c.network.isolate(dead)
    await c.tick(4 * E, [dead])
    expect(c.leaderOf('g')).toBe(dead)
    for (const id of NODES) expect(c.host(id).metrics().quiescedGroups).toBe(1)
  })

  it('a proposal forwarded to the leader fails at once when its connection closes, and the retry commits at the new leader', async () => {
    const c = await quietGroup()
    const dead = c.leaderOf('g') as string
    const follower = NODES.find((id) => id !== dead) as string
    const alive = NODES.filter((id) => id !== dead)
    c.network.isolate(dead)
    const lost = c.host(follower).propose('g', put('lost', 'x'))
    await c.settle()
    expect(c.host(follower).metrics().forwardsPending).toBe(1)
    for (const id of alive) c.host(id).peerUnreachable(dead)
    await expect(lost).rejects.toBeInstanceOf(RaftUnreachableError)
    expect(c.host(follower).metrics()).toMatchObject({ forwardsPending: 0, forwardsFailedUnreachable: 1 })
    // The retry is not forwarded to the suspected leader: it waits for the election.
    const retry = c.host(follower).propose('g', put('retry', 'y'))
    await c.tickUntil(() => alive.every((id) => c.machine(id, 'g').values.get('retry') === 'y'), 3 * E, [
      dead,
    ])
    await expect(retry).resolves.toMatch(/^retry@/)
    expect(leaderAmong(c, alive)).toBeDefined()
  })
})

describe('RaftHost.peerUnreachable: a spurious signal while the leader lives', () => {
  it('at one follower: pre-vote is refused, no member changes term, and the group quiesces again', async () => {
    const c = await quietGroup({ a: '1', b: '2' })
    const leader = c.leaderOf('g') as string
    const suspicious = NODES.find((id) => id !== leader) as string
    const terms = NODES.map((id) => termOf(c, id))
    const votes = () => c.host(suspicious).metrics().raftMessagesByType.vote ?? 0
    const votesBefore = votes()
    c.host(suspicious).peerUnreachable(leader)
    await c.settle()
    expect(c.host(suspicious).group('g')?.quiesced).toBe(false)
    await c.tick(4 * E)
    // It did campaign (pre-vote), and was refused.
    expect(votes()).toBeGreaterThan(votesBefore)
    expect(c.leaderOf('g')).toBe(leader)
    expect(NODES.map((id) => termOf(c, id))).toEqual(terms)
    // The campaign reached the leader, whose frames ended the suspicion.
    expect(c.host(suspicious).metrics().unreachableNodes).toBe(0)
    await c.tickUntil(() => NODES.every((id) => c.host(id).metrics().quiescedGroups === 1), 4 * E)
    for (const id of NODES)
      expect([...c.machine(id, 'g').values]).toEqual([
        ['a', '1'],
        ['b', '2'],
      ])
  })

  it('at every follower at once: at most a new term with one leader, and every committed entry survives', async () => {
    const c = await quietGroup({ a: '1', b: '2' })
    const leader = c.leaderOf('g') as string
    const followers = NODES.filter((id) => id !== leader)
    for (const id of followers) c.host(id).peerUnreachable(leader)
    await c.settle()
    const leadersByTerm = new Map<number, Set<string>>()
    for (let tick = 0; tick < 6 * E; tick++) {
      await c.tick()
      for (const id of NODES) {
        const status = c.host(id).group('g')?.status()
        if (status?.role !== 'leader') continue
        const seen = leadersByTerm.get(status.term) ?? new Set<string>()
        seen.add(id)
        leadersByTerm.set(status.term, seen)
      }
    }
    for (const seen of leadersByTerm.values()) expect(seen.size).toBe(1)
    const now = c.leaderOf('g') as string
    const done = c.host(now).propose('g', put('c', '3'))
    await c.tickUntil(() => NODES.every((id) => c.machine(id, 'g').values.get('c') === '3'), 2 * E)
    await done
    for (const id of NODES)
      expect([...c.machine(id, 'g').values]).toEqual([
        ['a', '1'],
        ['b', '2'],
        ['c', '3'],
      ])
  })

  it('a proposal waits while the leader is suspected and goes to it once a frame from it ends the suspicion', async () => {
    const c = await quietGroup()
    const leader = c.leaderOf('g') as string
    const follower = NODES.find((id) => id !== leader) as string
    c.host(follower).peerUnreachable(leader)
    const done = c.host(follower).propose('g', put('k', 'v'))
    await c.settle()
    expect(c.host(follower).metrics().forwardsSent).toBe(0)
    c.host(follower).peerReachable(leader)
    await c.tickUntil(() => NODES.every((id) => c.machine(id, 'g').values.get('k') === 'v'), E)
    await expect(done).resolves.toMatch(/^k@/)
    expect(c.leaderOf('g')).toBe(leader)
  })

  it('a signal about a follower wakes nothing', async () => {
    const c = await quietGroup()
    const leader = c.leaderOf('g') as string
    const [one, other] = NODES.filter((id) => id !== leader) as [string, string]
    c.host(leader).peerUnreachable(one)
    c.host(other).peerUnreachable(one)
    await c.settle()
    for (const id of NODES)
      expect(c.host(id).metrics()).toMatchObject({ quiescedGroups: 1, suspicionWakes: 0 })
  })
})

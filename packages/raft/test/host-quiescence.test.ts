import { afterEach, describe, expect, it } from 'vitest'
import { HostCluster, itemsOf } from './host-cluster.ts'
import { put } from './node-cluster.ts'

const E = 10 // election ticks
const NODES = ['h1', 'h2', 'h3']
let cluster: HostCluster | null = null
afterEach(async () => {
  await cluster?.stop()
  cluster = null
})

async function quietCluster(groups: string[], nodes = NODES, members = NODES): Promise<HostCluster> {
  const c = new HostCluster(nodes)
  cluster = c
  for (const group of groups) await c.addGroup(group, members)
  await c.tickUntil(() => groups.every((g) => c.leaderOf(g) !== null), 4 * E)
  await c.tickUntil(() => members.every((id) => c.host(id).metrics().quiescedGroups === groups.length), 4 * E)
  return c
}

const framesSent = (c: HostCluster): number =>
  [...c.hosts.values()].reduce((n, h) => n + h.metrics().framesSent, 0)

describe('RaftHost quiescence', () => {
  it('idle groups quiesce on every host and then the hosts send nothing', async () => {
    const groups = Array.from({ length: 20 }, (_, i) => `g${i}`)
    const c = await quietCluster(groups)
    for (const id of NODES) expect(c.host(id).metrics()).toMatchObject({ groups: 20, quiescedGroups: 20 })
    const before = framesSent(c)
    await c.tick(5 * E)
    expect(framesSent(c)).toBe(before)
  })

  it('a proposal wakes its group only; the group commits and falls quiet again', async () => {
    const c = await quietCluster(['a', 'b'])
    const leader = c.leaderOf('a') as string
    const start = c.sent.length
    const done = c.host(leader).propose('a', put('k', 'v'))
    await c.tickUntil(() => NODES.every((id) => c.machine(id, 'a').values.get('k') === 'v'), E)
    await expect(done).resolves.toMatch(/^k@/)
    await c.tickUntil(() => NODES.every((id) => c.host(id).metrics().quiescedGroups === 2), E)
    const groupsTouched = new Set(
      itemsOf(c.sent.slice(start)).map((item) => ('group' in item ? item.group : '')),
    )
    expect([...groupsTouched]).toEqual(['a'])
  })

  it('declaring a follower’s node dead wakes no group: quiesced leaders send nothing, per group or at all', async () => {
    const c = new HostCluster(['h1', 'h2', 'h3', 'h4'])
    cluster = c
    await c.addGroup('on-h3', ['h1', 'h2', 'h3'])
    await c.addGroup('on-h4', ['h1', 'h2', 'h4'])
    // h1 leads both, so h4 is a follower wherever it has a replica.
    for (const group of ['on-h3', 'on-h4']) c.host('h1').group(group)?.campaign()
    const quiet = () => ['h1', 'h2'].every((id) => c.host(id).metrics().quiescedGroups === 2)
    await c.tickUntil(() => quiet() && c.leaderOf('on-h3') === 'h1' && c.leaderOf('on-h4') === 'h1', 6 * E)
    c.network.isolate('h4')
    const start = c.sent.length
    const ticksBefore = c.host('h1').metrics().groupTicks + c.host('h2').metrics().groupTicks
    for (const id of ['h1', 'h2', 'h3']) c.host(id).setNodeLiveness('h4', 'dead')
    await c.settle()
    await c.tick(5 * E, ['h4'])
    expect(c.sent.length - start).toBe(0)
    expect(c.host('h1').metrics().groupTicks + c.host('h2').metrics().groupTicks).toBe(ticksBefore)
    expect(quiet()).toBe(true)
    expect(c.host('h1').metrics().deadNodes).toBe(1)
    // The group still commits with h1 and h2, and falls quiet again without h4.
    const done = c.host('h2').propose('on-h4', put('k', 'v'))
    await c.tickUntil(() => c.machine('h2', 'on-h4').values.get('k') === 'v', E, ['h4'])
    await expect(done).resolves.toMatch(/^k@/)
    await c.tickUntil(quiet, 2 * E, ['h4'])
  })

  it('declaring a node dead wakes the quiesced groups it led, and no other', async () => {
    const c = new HostCluster(['h1', 'h2', 'h3', 'h4'])
    cluster = c
    await c.addGroup('led-by-h4', ['h1', 'h2', 'h4'])
    await c.addGroup('led-by-h1', ['h1', 'h2', 'h4'])
    c.host('h4').group('led-by-h4')?.campaign()
    c.host('h1').group('led-by-h1')?.campaign()
    const quiet = (ids: string[]) => ids.every((id) => c.host(id).metrics().quiescedGroups === 2)
    await c.tickUntil(
      () => quiet(['h1', 'h2', 'h4']) && c.leaderOf('led-by-h4') === 'h4' && c.leaderOf('led-by-h1') === 'h1',
      6 * E,
    )
    c.network.isolate('h4')
    const start = c.sent.length
    for (const id of ['h1', 'h2']) c.host(id).setNodeLiveness('h4', 'dead')
    await c.settle()
    await c.tickUntil(() => ['h1', 'h2'].includes(c.leaderOf('led-by-h4') ?? ''), E, ['h4'])
    await c.tickUntil(() => quiet(['h1', 'h2']), 2 * E, ['h4'])
    const woken = itemsOf(c.sent.slice(start)).map((item) => ('group' in item ? item.group : ''))
    expect(new Set(woken)).toEqual(new Set(['led-by-h4']))
  })
})

describe('RaftHost quiescence races (each converges within one election timeout of the next request)', () => {
  it('a quiesced leader dies: SWIM declares it dead, the others elect a leader, and a proposal through a follower host commits', async () => {
    const c = await quietCluster(['g'])
    const dead = c.leaderOf('g') as string
    const alive = NODES.filter((id) => id !== dead)
    c.network.isolate(dead)
    for (const id of alive) c.host(id).setNodeLiveness(dead, 'dead')
    await c.settle()
    const elected = await c.tickUntil(() => alive.includes(c.leaderOf('g') ?? ''), E, [dead])
    expect(elected).toBeLessThanOrEqual(E)
    const follower = alive.find((id) => id !== c.leaderOf('g')) as string
    const done = c.host(follower).propose('g', put('after', 'death'))
    const ticks = await c.tickUntil(
      () => alive.every((id) => c.machine(id, 'g').values.get('after') === 'death'),
      E,
      [dead],
    )
    expect(ticks).toBeLessThanOrEqual(E)
    await expect(done).resolves.toMatch(/^after@/)
  })

  it('a follower wakes the group with a proposal, forwarded to the quiesced leader', async () => {
    const c = await quietCluster(['g'])
    const leader = c.leaderOf('g') as string
    const follower = NODES.find((id) => id !== leader) as string
    const done = c.host(follower).propose('g', put('from', follower))
    const ticks = await c.tickUntil(
      () => NODES.every((id) => c.machine(id, 'g').values.get('from') === follower),
      E,
    )
    expect(ticks).toBeLessThanOrEqual(E)
    await expect(done).resolves.toMatch(/^from@/)
    expect(c.leaderOf('g')).toBe(leader)
    await c.tickUntil(() => NODES.every((id) => c.host(id).metrics().quiescedGroups === 1), E)
  })

  it('one replica\u2019s node is dead while the others quiesce, and the next request commits', async () => {
    const c = new HostCluster(NODES)
    cluster = c
    await c.addGroup('g', NODES)
    await c.tickUntil(() => c.leaderOf('g') !== null, 4 * E)
    const leader = c.leaderOf('g') as string
    const dead = NODES.find((id) => id !== leader) as string
    const alive = NODES.filter((id) => id !== dead)
    c.network.isolate(dead)
    for (const id of alive) c.host(id).setNodeLiveness(dead, 'dead')
    await c.host(leader).propose('g', put('one', '1'))
    await c.tickUntil(() => alive.every((id) => c.host(id).metrics().quiescedGroups === 1), 2 * E, [dead])
    const before = framesSent(c)
    await c.tick(5 * E, [dead])
    expect(framesSent(c)).toBe(before)
    const follower = alive.find((id) => id !== leader) as string
    const done = c.host(follower).propose('g', put('two', '2'))
    const ticks = await c.tickUntil(
      () => alive.every((id) => c.machine(id, 'g').values.get('two') === '2'),
      E,
      [dead],
    )
    expect(ticks).toBeLessThanOrEqual(E)
    await expect(done).resolves.toMatch(/^two@/)
  })

  it('a follower ticks, receives the quiesce message, then handles its Ready, and the group stays quiet (CockroachDB #9372)', async () => {
    const c = new HostCluster(NODES)
    cluster = c
    await c.addGroup('g', NODES)
    // Hold back every quiescing heartbeat.
    c.hold = (_to, frame) =>
      frame.items.some(
        (item) => item.kind === 'raft' && item.message.type === 'heartbeat' && item.message.quiesce,
      )
    await c.tickUntil(() => c.leaderOf('g') !== null, 4 * E)
    const leader = c.leaderOf('g') as string
    const follower = NODES.find((id) => id !== leader) as string
    await c.tickUntil(() => c.host(leader).group('g')?.quiesced === true, 2 * E)
    c.hold = null
    expect(c.held.some(({ to }) => to === follower)).toBe(true)
    c.release((to) => to !== follower)
    await c.settle()
    // The follower ticks, then the quiesce arrives, then its loop handles the Ready.
    c.host(follower).tick()
    c.release()
    await c.settle()
    expect(c.host(follower).group('g')?.quiesced).toBe(true)
    const before = framesSent(c)
    const term = c.host(follower).group('g')?.status().term
    await c.tick(5 * E)
    expect(framesSent(c)).toBe(before)
    expect(c.host(follower).group('g')?.status().term).toBe(term)
    const done = c.host(follower).propose('g', put('next', 'x'))
    const ticks = await c.tickUntil(
      () => NODES.every((id) => c.machine(id, 'g').values.get('next') === 'x'),
      E,
    )
    expect(ticks).toBeLessThanOrEqual(E)
    await expect(done).resolves.toMatch(/^next@/)
  })
})

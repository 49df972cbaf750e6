import { afterEach, describe, expect, it } from 'vitest'
import { type HostFrame, NotLeaderError, RaftTimeoutError, UnknownGroupError } from '../src/index.ts'
import { HostCluster } from './host-cluster.ts'
import { put } from './node-cluster.ts'

const E = 10
const NODES = ['h1', 'h2', 'h3']
let cluster: HostCluster | null = null
afterEach(async () => {
  await cluster?.stop()
  cluster = null
})

async function started(options: ConstructorParameters<typeof HostCluster>[1] = {}): Promise<HostCluster> {
  const c = new HostCluster(NODES, options)
  cluster = c
  await c.addGroup('g', NODES)
  await c.tickUntil(() => c.leaderOf('g') !== null, 4 * E)
  return c
}

/** Ticks in the background while `work` runs, so real-time waits inside it see the clock move. */
async function ticking<T>(c: HostCluster, work: Promise<T>, except: string[] = []): Promise<T> {
  let done = false
  const result = work.finally(() => {
    done = true
  })
  for (let i = 0; i < 400 && !done; i++) await c.tick(1, except)
  return result
}

describe('RaftHost proposal forwarding', () => {
  it('a follower forwards a proposal to the leader and gets the state machine\u2019s result back', async () => {
    const c = await started()
    const leader = c.leaderOf('g') as string
    const follower = NODES.find((id) => id !== leader) as string
    const result = await ticking(c, c.host(follower).propose('g', put('k', 'v')))
    expect(result).toMatch(/^k@\d+$/)
    expect(c.host(follower).metrics().forwardsSent).toBe(1)
    expect(c.host(leader).metrics().forwardsServed).toBe(1)
    expect(c.machine(leader, 'g').values.get('k')).toBe('v')
  })

  it('the forward and its result travel as frame items that survive a msgpack round trip', async () => {
    const c = await started()
    const leader = c.leaderOf('g') as string
    const follower = NODES.find((id) => id !== leader) as string
    await ticking(c, c.host(follower).propose('g', put('wire', 'x')))
    const items = c.sent.flatMap(({ frame }) => [...frame.items])
    const forward = items.find((item) => item.kind === 'forward')
    expect(forward).toMatchObject({ kind: 'forward', group: 'g', id: 1 })
    expect(forward?.kind === 'forward' && forward.data).toBeInstanceOf(Uint8Array)
    expect(items.find((item) => item.kind === 'forwardResult')).toMatchObject({ ok: true, id: 1 })
  })

  it('a proposal on the leader host is proposed there, without forwarding', async () => {
    const c = await started()
    const leader = c.leaderOf('g') as string
    await ticking(c, c.host(leader).propose('g', put('here', '1')))
    expect(c.host(leader).metrics().forwardsSent).toBe(0)
  })

  it('with no leader known, propose waits briefly, then rejects with NotLeaderError', async () => {
    const c = new HostCluster(['h1'], { leaderWaitMs: 50 })
    cluster = c
    // A group whose other members are nowhere: no leader can be elected.
    await c.host('h1').addGroup('lonely', {
      stateMachine: new (await import('./node-cluster.ts')).MapMachine(),
      bootstrap: { voters: NODES, learners: [] },
    })
    await expect(c.host('h1').propose('lonely', put('k', 'v'))).rejects.toBeInstanceOf(NotLeaderError)
  })

  it('a forward that gets no answer rejects with RaftTimeoutError (outcome unknown)', async () => {
    const c = await started()
    const leader = c.leaderOf('g') as string
    const follower = NODES.find((id) => id !== leader) as string
    c.network.isolate(leader)
    const error = await c
      .host(follower)
      .propose('g', put('k', 'v'), { timeoutMs: 50 })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RaftTimeoutError)
    expect(c.host(follower).metrics().forwardsPending).toBe(0)
  })

  it('an aborted forward rejects with the signal\u2019s reason', async () => {
    const c = await started()
    const leader = c.leaderOf('g') as string
    const follower = NODES.find((id) => id !== leader) as string
    c.network.isolate(leader)
    const controller = new AbortController()
    const pending = c.host(follower).propose('g', put('k', 'v'), { signal: controller.signal })
    controller.abort(new Error('caller gave up'))
    await expect(pending).rejects.toThrow('caller gave up')
  })

  it('a proposal for a group the host does not have rejects with UnknownGroupError', async () => {
    const c = await started()
    await expect(c.host('h1').propose('nope', put('k', 'v'))).rejects.toBeInstanceOf(UnknownGroupError)
  })

  it('a forward that reaches a node no longer leading is refused unappended and retried at the new leader, applied once', async () => {
    const c = await started()
    const leader = c.leaderOf('g') as string
    const [follower, successor] = NODES.filter((id) => id !== leader) as [string, string]
    // Hold the forward, move leadership, then let the forward reach the old leader.
    c.hold = (to, frame) => to === leader && frame.items.some((item) => item.kind === 'forward')
    const pending = c.host(follower).propose('g', put('once', follower))
    await c.settle()
    expect(c.held).toHaveLength(1)
    c.hold = null
    c.host(leader).group('g')?.transferLeadership(successor)
    await c.tickUntil(
      () => c.leaderOf('g') === successor && c.host(follower).group('g')?.leader === successor,
      2 * E,
    )
    c.release()
    const result = await ticking(c, pending)
    expect(result).toMatch(/^once@/)
    await c.tickUntil(() => NODES.every((id) => c.machine(id, 'g').values.get('once') === follower), E)
    const applied = c.sent
      .flatMap(({ frame }) => [...frame.items])
      .filter((item) => item.kind === 'forwardResult')
    expect(applied.map((item) => (item.ok ? 'ok' : item.code))).toEqual(['RAFT_NOT_LEADER', 'ok'])
  })

  it('a proposal through a follower whose leader SWIM declared dead waits for the new leader', async () => {
    const c = await started()
    const leader = c.leaderOf('g') as string
    const follower = NODES.find((id) => id !== leader) as string
    c.network.isolate(leader)
    for (const id of NODES) if (id !== leader) c.host(id).setNodeLiveness(leader, 'dead')
    const result = await ticking(c, c.host(follower).propose('g', put('k', 'v')), [leader])
    expect(result).toMatch(/^k@/)
    expect(c.leaderOf('g')).not.toBe(leader)
  })

  it('drops and counts malformed items, items for unknown groups and frames without items, and the group keeps working', async () => {
    const c = await started()
    const leader = c.leaderOf('g') as string
    const host = c.host(leader)
    const before = host.metrics().itemsDropped
    host.receive({ from: 'h9', items: null } as unknown as HostFrame)
    host.receive({
      from: 'h9',
      items: [
        { kind: 'raft', group: 'g', message: { type: 'append', from: 'h9', to: leader, term: 99 } },
        { kind: 'raft', group: 'g', message: { type: 'vote', from: 'h2', to: 'elsewhere', term: 1 } },
        { kind: 'raft', group: 'nope', message: { type: 'timeoutNow', from: 'h2', to: leader, term: 1 } },
        { kind: 'mystery' },
        null,
      ],
    } as unknown as HostFrame)
    expect(host.metrics().itemsDropped - before).toBe(6)
    expect(await ticking(c, host.propose('g', put('still', 'ok')))).toMatch(/^still@/)
  })
})

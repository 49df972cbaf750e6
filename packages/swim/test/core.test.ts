import { describe, expect, it } from 'vitest'
import { type Message, resolveConfig, SwimCore, type SwimEvent, seededRandom } from '../src/core/index.ts'

const config = resolveConfig({ pushPullIntervalMs: 0, reconnectIntervalMs: 0 })

function core(id: string, overrides: Partial<typeof config> = {}): SwimCore {
  return new SwimCore({
    id,
    address: id,
    config: { ...config, ...overrides },
    random: seededRandom(1),
    nowMs: 0,
  })
}

function formed(cores: SwimCore[]): void {
  const records = cores.map((c) => ({
    id: c.id,
    address: c.id,
    incarnation: 0,
    state: 'alive' as const,
    meta: {},
  }))
  for (const c of cores) c.restoreMembers(records, 0)
}

/** Delivers every queued message among `cores` (synchronously, lossless) until quiet; returns the events. */
function settle(cores: SwimCore[], nowMs: number, drop: (to: string, m: Message) => boolean = () => false) {
  const byId = new Map(cores.map((c) => [c.id, c]))
  const events: Array<{ observer: string; event: SwimEvent }> = []
  for (let round = 0; round < 50; round++) {
    let moved = false
    for (const c of cores) {
      const ready = c.takeReady()
      for (const event of ready.events) events.push({ observer: c.id, event })
      for (const { to, message } of ready.messages) {
        moved = true
        if (drop(to, message)) continue
        byId.get(to)?.receive(message, nowMs)
      }
    }
    if (!moved) break
  }
  return events
}

describe('SwimCore', () => {
  it('answers a ping addressed to it with an ack carrying the same seq', () => {
    const a = core('a')
    a.takeReady()
    a.receive({ type: 'ping', seq: 7, from: 'b', fromAddress: 'b', target: 'a', updates: [] }, 0)
    const { messages } = a.takeReady()
    expect(messages).toHaveLength(1)
    expect(messages[0]).toMatchObject({ to: 'b', message: { type: 'ack', seq: 7, from: 'a' } })
  })

  it('does not ack a ping meant for another member at its address', () => {
    const a = core('a')
    a.takeReady()
    a.receive({ type: 'ping', seq: 7, from: 'b', fromAddress: 'b', target: 'old-a', updates: [] }, 0)
    expect(a.takeReady().messages).toHaveLength(0)
  })

  // SWIM §4.2: suspicion is refuted by a higher incarnation.
  it('refutes a suspicion of itself by raising its incarnation and gossiping alive', () => {
    const [a, b] = [core('a'), core('b')]
    formed([a, b])
    settle([a, b], 0)
    b.receive(
      { type: 'gossip', from: 'c', updates: [{ kind: 'suspect', id: 'a', incarnation: 0, from: 'c' }] },
      10,
    )
    expect(b.member('a')?.state).toBe('suspect')
    a.receive(
      { type: 'gossip', from: 'c', updates: [{ kind: 'suspect', id: 'a', incarnation: 0, from: 'c' }] },
      10,
    )
    expect(a.incarnation).toBe(1)
    // The refutation travels on the next gossip round.
    a.tick(1000)
    const events = settle([a, b], 1000)
    expect(b.member('a')).toMatchObject({ state: 'alive', incarnation: 1 })
    expect(events.some((e) => e.observer === 'b' && e.event.type === 'alive')).toBe(true)
  })

  it('ignores a stale suspicion once a newer incarnation is known', () => {
    const b = core('b')
    b.receive(
      {
        type: 'gossip',
        from: 'x',
        updates: [{ kind: 'alive', id: 'a', incarnation: 3, address: 'a', meta: {} }],
      },
      0,
    )
    b.receive(
      { type: 'gossip', from: 'x', updates: [{ kind: 'suspect', id: 'a', incarnation: 2, from: 'x' }] },
      0,
    )
    expect(b.member('a')?.state).toBe('alive')
  })

  it('suspects a member that answers neither directly nor through others, then declares it dead', () => {
    const cores = ['a', 'b', 'c', 'd'].map((id) => core(id))
    formed(cores)
    const live = cores.filter((c) => c.id !== 'd')
    let suspectedAt: number | undefined
    let deadAt: number | undefined
    for (let now = 0; now < 60_000 && deadAt === undefined; now += 50) {
      for (const c of live) c.tick(now)
      const events = settle(live, now)
      for (const { event } of events) {
        if (event.member.id !== 'd') continue
        if (event.type === 'suspect') suspectedAt ??= now
        if (event.type === 'dead') deadAt ??= now
      }
    }
    expect(suspectedAt).toBeDefined()
    expect(deadAt).toBeDefined()
    for (const c of live) expect(c.member('d')?.state).toBe('dead')
  })

  // Lifeguard §IV-B: independent confirmations shorten the suspicion timeout.
  it('declares a suspect dead sooner when independent members confirm the suspicion', () => {
    function deadlineAfter(confirmers: string[]): number {
      const b = core('b')
      const records = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => ({
        id,
        address: id,
        incarnation: 0,
        state: 'alive' as const,
        meta: {},
      }))
      b.restoreMembers(records, 0)
      b.receive(
        { type: 'gossip', from: 'c', updates: [{ kind: 'suspect', id: 'a', incarnation: 0, from: 'c' }] },
        0,
      )
      for (const from of confirmers) {
        b.receive({ type: 'gossip', from, updates: [{ kind: 'suspect', id: 'a', incarnation: 0, from }] }, 0)
      }
      for (let now = 0; now < 120_000; now += 100) {
        b.tick(now)
        // Only a's refutation is lost: its acks arrive, so b's own probes never confirm the suspicion.
        for (const { message } of b.takeReady().messages) {
          if (message.type === 'ping')
            b.receive({ type: 'ack', seq: message.seq, from: message.target, updates: [] }, now)
        }
        if (b.member('a')?.state === 'dead') return now
      }
      return Number.POSITIVE_INFINITY
    }
    const alone = deadlineAfter([])
    const confirmed = deadlineAfter(['d', 'e'])
    expect(confirmed).toBeLessThan(alone)
    // 6 members: min = 4 × log10(6)... floored at 4 × 1 s; max = 6 × min.
    expect(alone).toBeGreaterThanOrEqual(24_000)
    expect(confirmed).toBeLessThan(5_000)
  })

  it('uses the fixed minimum suspicion timeout when Lifeguard is off', () => {
    const b = core('b', { lifeguard: false })
    b.restoreMembers(
      ['a', 'b', 'c'].map((id) => ({ id, address: id, incarnation: 0, state: 'alive' as const, meta: {} })),
      0,
    )
    b.receive(
      { type: 'gossip', from: 'c', updates: [{ kind: 'suspect', id: 'a', incarnation: 0, from: 'c' }] },
      0,
    )
    b.tick(3_999)
    expect(b.member('a')?.state).toBe('suspect')
    b.tick(4_000)
    expect(b.member('a')?.state).toBe('dead')
  })

  // Lifeguard §IV-A: a member that misses acks (it may be the slow one) stretches its own timeouts.
  it('raises its local health score when its probes go unanswered, and lowers it on timely acks', () => {
    // Five members: suspicions start at the 24 s maximum, so nobody is declared dead during the outage.
    const cores = ['a', 'b', 'c', 'd', 'e'].map((id) => core(id))
    formed(cores)
    const [a] = cores as [SwimCore]
    // Everything a sends is lost: a sees no acks and no nacks.
    for (let now = 0; now < 10_000; now += 50) {
      a.tick(now)
      settle(cores, now, (_to, m) => m.type !== 'push-pull' && (m as { from?: string }).from === 'a')
    }
    expect(a.localHealthScore).toBeGreaterThan(0)
    const stretched = a.localHealthScore
    for (let now = 10_000; now < 60_000; now += 50) {
      for (const c of cores) c.tick(now)
      settle(cores, now)
    }
    expect(a.localHealthScore).toBeLessThan(stretched)
  })

  // Lifeguard §IV-C: the buddy system.
  it('tells a suspect that it is suspected inside the probe itself', () => {
    const cores = ['a', 'b'].map((id) => core(id))
    formed(cores)
    const [a] = cores as [SwimCore]
    a.receive(
      { type: 'gossip', from: 'x', updates: [{ kind: 'suspect', id: 'b', incarnation: 0, from: 'x' }] },
      0,
    )
    a.takeReady()
    let ping: Message | undefined
    for (let now = 0; now < 3000 && ping === undefined; now += 10) {
      a.tick(now)
      ping = a.takeReady().messages.find((m) => m.message.type === 'ping')?.message
    }
    expect(ping?.type).toBe('ping')
    const updates = ping?.type === 'ping' ? ping.updates : []
    expect(updates[0]).toEqual({ kind: 'suspect', id: 'b', incarnation: 0, from: 'a' })
  })

  it('repeats a join whose exchange was lost until a seed answers with its state', () => {
    const a = core('a')
    const b = core('b')
    a.takeReady()
    b.takeReady()
    b.join(['a'], 0)
    expect(b.joining).toBe(true)
    // The first request is lost (memberlist joins over TCP; here a datagram can vanish).
    expect(b.takeReady().messages.map((m) => m.message.type)).toEqual(['push-pull'])
    let joinedAt: number | undefined
    for (let now = 0; now < 10_000 && joinedAt === undefined; now += 100) {
      b.tick(now)
      settle([a, b], now)
      if (!b.joining) joinedAt = now
    }
    expect(joinedAt).toBeLessThanOrEqual(1_000)
    expect(b.member('a')?.state).toBe('alive')
    // Joined: no more join requests.
    b.tick(20_000)
    expect(b.takeReady().messages.filter((m) => m.message.type === 'push-pull')).toHaveLength(0)
  })

  // memberlist `estNumNodes`: the dead still count until gossip to the dead stops.
  it('keeps counting a dead member in its cluster size for gossipToTheDeadMs, so news of a death spreads as far', () => {
    const cores = Array.from({ length: 10 }, (_, i) => core(`m${i}`))
    formed(cores)
    const [m0] = cores as [SwimCore]
    expect(m0.estimatedClusterSize).toBe(10)
    m0.receive(
      { type: 'gossip', from: 'm2', updates: [{ kind: 'dead', id: 'm1', incarnation: 0, from: 'm2' }] },
      0,
    )
    expect(m0.clusterSize).toBe(9)
    expect(m0.estimatedClusterSize).toBe(10)
    m0.tick(config.gossipToTheDeadMs)
    expect(m0.estimatedClusterSize).toBe(9)
  })

  // Lifeguard §IV-B counts independent confirmations: a synced state names no prober.
  it('does not count a suspicion received by push-pull sync as a confirmation', () => {
    function deadAfter(confirm: (b: SwimCore, from: string) => void): number {
      const b = core('b')
      const ids = ['a', 'b', 'c', 'd', 'e', 'f']
      const records = ids.map((id) => ({
        id,
        address: id,
        incarnation: 0,
        state: 'alive' as const,
        meta: {},
      }))
      b.restoreMembers(records, 0)
      b.receive(
        { type: 'gossip', from: 'c', updates: [{ kind: 'suspect', id: 'a', incarnation: 0, from: 'c' }] },
        0,
      )
      for (const from of ['d', 'e']) confirm(b, from)
      for (let now = 0; now < 120_000; now += 100) {
        b.tick(now)
        for (const { message } of b.takeReady().messages) {
          if (message.type === 'ping')
            b.receive({ type: 'ack', seq: message.seq, from: message.target, updates: [] }, now)
        }
        if (b.member('a')?.state === 'dead') return now
      }
      return Number.POSITIVE_INFINITY
    }
    const bySync = deadAfter((b, from) => {
      const members = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => ({
        id,
        address: id,
        incarnation: 0,
        state: id === 'a' ? ('suspect' as const) : ('alive' as const),
        meta: {},
      }))
      b.receive({ type: 'push-pull', from, fromAddress: from, join: false, reply: true, members }, 0)
    })
    const byProbers = deadAfter((b, from) =>
      b.receive({ type: 'gossip', from, updates: [{ kind: 'suspect', id: 'a', incarnation: 0, from }] }, 0),
    )
    expect(byProbers).toBeLessThan(5_000)
    expect(bySync).toBeGreaterThanOrEqual(24_000)
  })

  it('probes a member next when it hears of a new suspicion of it, so confirmations come sooner', () => {
    // 4 members: k = 2, and (k + 1)/(n − 2) ≥ 1, so b always re-probes the suspect.
    const cores = ['a', 'b', 'c', 'd'].map((id) => core(id))
    formed(cores)
    const [, b] = cores as [SwimCore, SwimCore]
    b.takeReady()
    b.receive(
      { type: 'gossip', from: 'a', updates: [{ kind: 'suspect', id: 'd', incarnation: 0, from: 'a' }] },
      0,
    )
    let ping: Message | undefined
    for (let now = 0; now < 3000 && ping === undefined; now += 10) {
      b.tick(now)
      ping = b.takeReady().messages.find((m) => m.message.type === 'ping')?.message
    }
    expect(ping).toMatchObject({ type: 'ping', target: 'd' })
  })

  it('spreads a metadata change as a new incarnation and reports it as an update', () => {
    const cores = ['a', 'b'].map((id) => core(id))
    formed(cores)
    const [a, b] = cores as [SwimCore, SwimCore]
    a.updateMetadata({ zone: 'eu-1' }, 0)
    a.tick(1000)
    const events = settle(cores, 1000)
    expect(b.member('a')).toMatchObject({ incarnation: 1, meta: { zone: 'eu-1' } })
    expect(events.some((e) => e.observer === 'b' && e.event.type === 'update')).toBe(true)
  })

  it('marks a member that leaves as left, not dead', () => {
    const cores = ['a', 'b'].map((id) => core(id))
    formed(cores)
    const [a, b] = cores as [SwimCore, SwimCore]
    a.leave(0)
    a.tick(1000)
    const events = settle(cores, 1000)
    expect(b.member('a')?.state).toBe('left')
    expect(events.find((e) => e.observer === 'b')?.event.type).toBe('leave')
  })
})

import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { derivePnetKey, P2PError } from '../src/internal/p2p/index.ts'
import { eventually, metricValue, P2PCluster } from './p2p-harness.ts'

let cluster: P2PCluster
afterEach(async () => {
  await cluster.close()
})

describe('private network keyed by the cluster key', () => {
  it('refuses a node with another cluster key at the handshake, and counts it on both sides', async () => {
    cluster = new P2PCluster()
    const member = await cluster.node()
    const stranger = await cluster.node({ clusterKey: randomBytes(32), dialTimeoutMs: 2000 })
    let served = 0
    member.onRequest(async () => ++served)
    member.onRaft(() => served++)

    const error = await stranger
      .request(member.address(), 'hello', { timeoutMs: 4000 })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(P2PError)
    expect((error as P2PError).code).toMatch(/^(unreachable|timeout)$/)
    stranger.sendRaft(member.address(), 'vote for me')

    await eventually(
      async () =>
        (await metricValue(member, 'shoal_p2p_handshake_failures_total', { direction: 'inbound' })) >= 1,
    )
    expect(
      await metricValue(stranger, 'shoal_p2p_handshake_failures_total', { direction: 'outbound' }),
    ).toBeGreaterThanOrEqual(1)
    expect(served).toBe(0)
  })

  it('does not count a handshake failure for a connection that succeeded and later closed', async () => {
    cluster = new P2PCluster()
    const a = await cluster.node()
    const b = await cluster.node()
    b.onRequest(async () => 'ok')
    expect(await a.request(b.address(), 'x')).toBe('ok')
    await a.stop()
    await eventually(async () => (await metricValue(b, 'shoal_p2p_messages_received_total')) >= 1)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(await metricValue(b, 'shoal_p2p_handshake_failures_total')).toBe(0)
  })

  it('derives the pnet key from the cluster key, not the key itself', () => {
    const clusterKey = new Uint8Array(32).fill(7)
    const text = new TextDecoder().decode(derivePnetKey(clusterKey))
    const [tag, codec, hex] = text.split('\n')
    expect(tag).toBe('/key/swarm/psk/1.0.0/')
    expect(codec).toBe('/base16/')
    expect(hex).toMatch(/^[0-9a-f]{64}$/)
    expect(hex).not.toContain(Buffer.from(clusterKey).toString('hex'))
    expect(text).toBe(new TextDecoder().decode(derivePnetKey(clusterKey)))
    expect(text).not.toBe(new TextDecoder().decode(derivePnetKey(new Uint8Array(32).fill(8))))
  })

  it('writes no key material to its logs', async () => {
    cluster = new P2PCluster()
    const lines: string[] = []
    const logger = {
      debug: (f: object, m: string) => lines.push(JSON.stringify(f) + m),
      info: (f: object, m: string) => lines.push(JSON.stringify(f) + m),
      warn: (f: object, m: string) => lines.push(JSON.stringify(f) + m),
      error: (f: object, m: string) => lines.push(JSON.stringify(f) + m),
    }
    const member = await cluster.node({ logger })
    const stranger = await cluster.node({ clusterKey: randomBytes(32), logger })
    await stranger.request(member.address(), 'x', { timeoutMs: 3000 }).catch(() => {})
    await eventually(async () => (await metricValue(member, 'shoal_p2p_handshake_failures_total')) >= 1)
    const secrets = [
      Buffer.from(cluster.clusterKey).toString('hex'),
      Buffer.from(cluster.clusterKey).toString('base64'),
      new TextDecoder().decode(derivePnetKey(cluster.clusterKey)).split('\n')[2]!,
    ]
    expect(lines.length).toBeGreaterThan(0)
    for (const line of lines) for (const secret of secrets) expect(line).not.toContain(secret)
  })
})

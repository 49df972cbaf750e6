import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { SwimNode } from '../src/swim-node.ts'
import { UdpTransport } from '../src/udp-transport.ts'

/** Short intervals so the test finishes quickly; the same formulas as LAN. */
const fastConfig = { probeIntervalMs: 200, probeTimeoutMs: 100, gossipIntervalMs: 50 }

const nodes: SwimNode[] = []
afterEach(async () => {
  for (const node of nodes.splice(0)) await node.stop()
})

async function until(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (done()) return true
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return done()
}

describe('SwimNode and a stepped wall clock', () => {
  // Seen in a chaos run (clock-skew against shoal-shards): a node whose wall clock was stepped two
  // minutes back stopped probing for two minutes (its deadlines lay in the "future"), so the
  // cluster's view of its members did not recover after the clock was put right.
  it('keeps probing when its wall clock steps back two minutes, and finds a member that stopped', async () => {
    const key = randomBytes(32)
    let wallMs = Date.now()
    const a = new SwimNode({
      id: 'a',
      transport: new UdpTransport({ clusterKey: key }),
      config: fastConfig,
      clock: () => wallMs,
    })
    nodes.push(a)
    await a.start()
    const b = new SwimNode({
      id: 'b',
      transport: new UdpTransport({ clusterKey: key }),
      config: fastConfig,
      seeds: [a.address],
    })
    nodes.push(b)
    await b.start()
    expect(await until(() => a.member('b')?.state === 'alive', 5_000)).toBe(true)
    wallMs -= 120_000
    await b.stop()
    expect(await until(() => a.member('b')?.state === 'dead', 10_000)).toBe(true)
    // The member's timestamps stay wall-clock times from before the step.
    expect(Math.abs((a.member('b')?.stateChangedAtMs ?? 0) - Date.now())).toBeLessThan(15_000)
  }, 20_000)
})

import type { Scenario } from '../scenario.ts'

/**
 * 20% loss on every link. Over TCP, loss shows up as retransmission stalls
 * (the proxy holds a chunk back 200 ms, doubled per further loss) plus an
 * occasional reset; a byte stream cannot lose bytes and stay a stream.
 */
export const packetLoss: Scenario = {
  name: 'packet-loss',
  description:
    '20% loss on every directed link (TCP: retransmission stalls of 200 ms and up, and 1% of chunks reset the connection).',
  quietMs: [500, 1500],
  holdMs: [4000, 8000],
  async apply({ network }) {
    network.table.setAll({ loss: 0.2, retransmitMs: 200, reset: 0.01 })
    return { kind: 'loss', detail: '20% on all links, 1% resets', heal: () => network.heal() }
  },
}

import type { Message } from './core/index.ts'

/** Counters of a transport; drops are per reason and never crash the node. */
export interface TransportStats {
  packetsSent: number
  packetsReceived: number
  bytesSent: number
  bytesReceived: number
  /** Messages too large for one packet, sent over a stream (TCP). */
  streamsSent: number
  streamsReceived: number
  sendErrors: number
  /**
   * Packets verified with an accepted key other than the one this member
   * sends with (a key rotation in progress). Absent on transports without keys.
   */
  packetsReceivedWithOtherKey?: number
  dropped: {
    malformed: number
    unauthenticated: number
    oversized: number
    stale: number
    replayed: number
  }
}

/**
 * How a `SwimNode` reaches other members. Delivery is best effort (like UDP):
 * `send` never throws for a lost or unroutable message, it counts it.
 * Addresses are opaque strings the transport understands.
 */
export interface Transport {
  /** This member's address as others reach it; valid after `start()`. */
  readonly address: string
  /** Starts receiving; `onMessages` gets every verified, decoded batch. */
  start(onMessages: (messages: Message[]) => void): Promise<void>
  /** Sends messages to one address, packing several into one packet where they fit. */
  send(to: string, messages: readonly Message[]): void
  stop(): Promise<void>
  stats(): TransportStats
}

export function emptyStats(): TransportStats {
  return {
    packetsSent: 0,
    packetsReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    streamsSent: 0,
    streamsReceived: 0,
    sendErrors: 0,
    packetsReceivedWithOtherKey: 0,
    dropped: { malformed: 0, unauthenticated: 0, oversized: 0, stale: 0, replayed: 0 },
  }
}

import type { Message, NodeId, Transport } from '../../src/index.ts'
import type { PeerAddress } from './protocol.ts'

/**
 * A member-to-member transport loaded by `server.ts --transport-module
 * <file>` in place of the raw TCP framing. The module exports
 * `createTransport`; the member calls it once, after its Raft node has
 * started, and sends every outgoing message through what it returns.
 */
export interface TransportModule {
  createTransport(options: TransportModuleOptions): Promise<MemberTransport>
}

export interface TransportModuleOptions {
  /** This member's id. */
  id: NodeId
  /** Every member (this one included), with the Raft port it should listen on. */
  peers: readonly PeerAddress[]
  /** This member's data directory (the transport may keep its own files beside it, not in it). */
  dir: string
  /** Hands the messages of one received frame to the member. */
  receive(messages: readonly Message[]): void
}

export interface MemberTransport extends Transport {
  /** Stops the transport on a clean shutdown (SIGTERM). */
  close?(): Promise<void>
}

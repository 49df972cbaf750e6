import { Counter, Gauge, Registry } from 'prom-client'

/** Why a Raft frame was not handed to libp2p. */
export type DropReason = 'queue_full' | 'unreachable' | 'stopped' | 'no_handler' | 'handler_error'

/**
 * Why a stream ended. `end` is the normal close; the others are counted
 * failures: `bad_version`, `unexpected_kind`, `oversized`, `undecodable`
 * (frame errors, see frame.ts), `truncated` (the stream ended inside a
 * frame or before the exchange was complete), `checksum` (snapshot chunk or
 * total CRC32 mismatch), `reset` (the remote or the connection aborted it),
 * `timeout`, `aborted`, `stopped`, `idle_timeout` (libp2p closed an idle
 * stream), `buffer_full` (libp2p's per-stream buffer limit).
 */
export type CloseReason = string

/**
 * The `shoal_p2p_*` metrics of one node. The `peer` label is the remote
 * peer id, so its cardinality is the cluster size.
 */
export class P2PMetrics {
  readonly registry: Registry
  readonly messagesSent: Counter<'peer' | 'protocol'>
  readonly bytesSent: Counter<'peer' | 'protocol'>
  readonly messagesReceived: Counter<'peer' | 'protocol'>
  readonly bytesReceived: Counter<'peer' | 'protocol'>
  readonly framesDropped: Counter<'peer' | 'reason'>
  readonly streamsClosed: Counter<'protocol' | 'reason'>
  readonly handshakeFailures: Counter<'direction'>
  readonly pnetKeys: Counter<'key'>
  readonly requests: Counter<'peer' | 'outcome'>

  constructor(registry: Registry | undefined, queuedBytes: () => number) {
    this.registry = registry ?? new Registry()
    const registers = [this.registry]
    const perPeer = (name: string, help: string) =>
      new Counter({ name, help, labelNames: ['peer', 'protocol'] as const, registers })
    this.messagesSent = perPeer(
      'shoal_p2p_messages_sent_total',
      'Frames handed to libp2p, by peer and protocol',
    )
    this.bytesSent = perPeer('shoal_p2p_bytes_sent_total', 'Frame bytes (header included) handed to libp2p')
    this.messagesReceived = perPeer('shoal_p2p_messages_received_total', 'Whole frames received')
    this.bytesReceived = perPeer('shoal_p2p_bytes_received_total', 'Bytes of whole frames received')
    this.framesDropped = new Counter({
      name: 'shoal_p2p_frames_dropped_total',
      help: 'Raft frames dropped instead of sent or delivered, by peer and reason',
      labelNames: ['peer', 'reason'] as const,
      registers,
    })
    this.streamsClosed = new Counter({
      name: 'shoal_p2p_streams_closed_total',
      help: 'Streams closed, by protocol and reason (end is the normal close)',
      labelNames: ['protocol', 'reason'] as const,
      registers,
    })
    this.handshakeFailures = new Counter({
      name: 'shoal_p2p_handshake_failures_total',
      help: 'Connections that closed before the private-network and Noise handshakes completed (a wrong cluster key lands here)',
      labelNames: ['direction'] as const,
      registers,
    })
    this.pnetKeys = new Counter({
      name: 'shoal_p2p_pnet_inbound_keys_total',
      help: "Connections by the private-network key the peer sends with: sending (this node's own), other (another accepted key, during a rotation) or none",
      labelNames: ['key'] as const,
      registers,
    })
    this.requests = new Counter({
      name: 'shoal_p2p_requests_total',
      help: 'Requests sent, by peer and outcome (ok, remote_error, timeout, aborted, failed)',
      labelNames: ['peer', 'outcome'] as const,
      registers,
    })
    new Gauge({
      name: 'shoal_p2p_raft_queue_bytes',
      help: 'Bytes of Raft frames waiting in the per-peer queues',
      registers,
      collect() {
        this.set(queuedBytes())
      },
    })
  }

  sent(peer: string, protocol: string, bytes: number): void {
    this.messagesSent.inc({ peer, protocol })
    this.bytesSent.inc({ peer, protocol }, bytes)
  }

  received(peer: string, protocol: string, bytes: number): void {
    this.messagesReceived.inc({ peer, protocol })
    this.bytesReceived.inc({ peer, protocol }, bytes)
  }
}

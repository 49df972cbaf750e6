/**
 * The libp2p node under the adapter: TCP, a private network (pnet), Noise
 * and Yamux, and nothing else: no DHT, no mDNS, no identify, no peer
 * discovery. It dials only the explicit addresses it is given.
 */

import { isIP } from 'node:net'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { ConnectionProtector, MessageStream, PrivateKey } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { peerIdFromString } from '@libp2p/peer-id'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { P2PAddressError } from './errors.ts'
import type { HostPort } from './options.ts'
import { type KeyChoice, keyRingProtector, type PnetKeyRing } from './pnet-key-ring.ts'

/** A peer to dial: its peer id and the multiaddrs it announced. */
export interface PeerAddress {
  peerId: string
  addrs: readonly string[]
}

export interface HostOptions {
  privateKey: PrivateKey
  /**
   * The private network: one pnet key in `/key/swarm/psk/1.0.0/` format (see
   * keys.ts, @libp2p/pnet), or a key ring that accepts several (pnet-key-ring.ts).
   */
  pnet: { pnetKey: Uint8Array } | { keyRing: PnetKeyRing; onKeyChoice?: KeyChoice }
  listen: HostPort
  announce?: HostPort | undefined
  dialTimeoutMs: number
  handshakeTimeoutMs: number
  /** Bytes a paused stream may buffer; at least Yamux's largest window. */
  maxReadBufferBytes: number
  /** Called once per connection that closed before its handshake completed. */
  onHandshakeFailure?: (direction: 'inbound' | 'outbound') => void
  /**
   * Run gossipsub (with identify, which it needs to learn which peers speak it): the
   * inter-region feed. Off for cluster nodes. @defaultValue false
   */
  pubsub?: boolean
}

/** A host with gossipsub: `services.pubsub` is there when `HostOptions.pubsub` was set. */
export type Libp2pHost = Libp2p<{ pubsub?: GossipSub }>

/** Connections kept, inbound connections per second per IP, and handshakes in progress, each at most. */
export const MAX_CONNECTIONS = 1024

/** Yamux's largest per-stream receive window. A paused stream buffers at most this. */
export const YAMUX_MAX_WINDOW_BYTES = 4 * 1024 * 1024

export function hostPortMultiaddr({ host, port }: HostPort): Multiaddr {
  const family = isIP(host)
  if (family === 4) return multiaddr(`/ip4/${host}/tcp/${port}`)
  if (family === 6) return multiaddr(`/ip6/${host}/tcp/${port}`)
  return multiaddr(`/dns/${host}/tcp/${port}`)
}

/**
 * A peer's multiaddrs, each ending in `/p2p/<peerId>` so Noise checks the
 * remote's identity against it. Throws `P2PAddressError`.
 */
export function dialTargets(peer: PeerAddress): Multiaddr[] {
  try {
    peerIdFromString(peer.peerId)
  } catch (cause) {
    throw new P2PAddressError(`not a peer id: ${String(peer.peerId)}`, { cause })
  }
  if (peer.addrs.length === 0) throw new P2PAddressError(`no address for peer ${peer.peerId}`)
  return peer.addrs.map((text) => {
    let ma: Multiaddr
    try {
      ma = multiaddr(text)
    } catch (cause) {
      throw new P2PAddressError(`not a multiaddr: ${text}`, { cause })
    }
    const named = ma.getComponents().findLast((c) => c.name === 'p2p')?.value
    if (named === undefined) return ma.encapsulate(`/p2p/${peer.peerId}`)
    if (named !== peer.peerId) throw new P2PAddressError(`${text} names another peer than ${peer.peerId}`)
    return ma
  })
}

export async function createLibp2pHost(options: HostOptions): Promise<Libp2pHost> {
  const observer = new HandshakeObserver(options.onHandshakeFailure)
  return createLibp2p({
    privateKey: options.privateKey,
    start: false,
    addresses: {
      listen: [hostPortMultiaddr(options.listen).toString()],
      announce: options.announce === undefined ? [] : [hostPortMultiaddr(options.announce).toString()],
    },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [
      yamux({
        // Streams the remote opens before libp2p has wired the new
        // connection up; a burst of requests right after connecting must
        // not abort the whole connection (Yamux's default is 10).
        maxEarlyStreams: 1024,
        streamOptions: {
          maxStreamWindowSize: YAMUX_MAX_WINDOW_BYTES,
          maxReadBufferLength: options.maxReadBufferBytes,
        },
      }),
    ],
    connectionProtector: observer.wrap(
      'keyRing' in options.pnet
        ? keyRingProtector(options.pnet.keyRing, options.pnet.onKeyChoice ?? (() => {}))()
        : preSharedKey({ psk: options.pnet.pnetKey })(),
    ),
    connectionGater: {
      // The default gater is fine with loopback and private ranges on Node;
      // say so explicitly, since clusters run on private networks.
      denyDialMultiaddr: () => false,
      denyInboundEncryptedConnection: (_peer, maConn) => observer.encrypted(maConn),
      denyOutboundEncryptedConnection: (_peer, maConn) => observer.encrypted(maConn),
    },
    connectionManager: {
      dialTimeout: options.dialTimeoutMs,
      inboundUpgradeTimeout: options.handshakeTimeoutMs,
      // libp2p's defaults (300 connections, 5 new inbound connections per
      // second per IP, 10 handshakes at once) suit a public swarm; cluster
      // nodes may share an IP (tests, a proxy), restart together, and only
      // key holders get past the handshake.
      maxConnections: MAX_CONNECTIONS,
      inboundConnectionThreshold: MAX_CONNECTIONS,
      maxIncomingPendingConnections: MAX_CONNECTIONS,
    },
    peerDiscovery: [],
    services: (options.pubsub === true
      ? {
          identify: identify(),
          pubsub: gossipsub({
            // Feed messages carry their own sequence numbers and are fetched again when lost,
            // so publishing before any region listens is not an error.
            allowPublishToZeroTopicPeers: true,
            ignoreDuplicatePublishError: true,
            emitSelf: false,
          }),
        }
      : {}) as Record<string, never>,
  }) as Promise<Libp2pHost>
}

/**
 * Counts connections whose handshake failed. pnet (XSalsa20 with the
 * pre-shared key) has no authenticator of its own: with a wrong key both
 * ends read noise, and the multistream-select / Noise exchange that follows
 * fails, after which libp2p aborts the raw connection. So a connection is
 * counted when its raw stream closes after `protect` began and before the
 * gater saw it encrypted. A connection dropped mid-handshake for another
 * reason (a port scanner, a crash) is counted too.
 */
class HandshakeObserver {
  readonly #pending = new WeakSet<object>()
  readonly #onFailure: ((direction: 'inbound' | 'outbound') => void) | undefined

  constructor(onFailure: ((direction: 'inbound' | 'outbound') => void) | undefined) {
    this.#onFailure = onFailure
  }

  wrap(inner: ConnectionProtector): () => ConnectionProtector {
    return () => ({
      protect: (connection: MessageStream, options) => {
        this.#pending.add(connection)
        connection.addEventListener(
          'close',
          () => {
            if (this.#pending.delete(connection)) this.#onFailure?.(connection.direction)
          },
          { once: true },
        )
        return inner.protect(connection, options)
      },
    })
  }

  encrypted(maConn: object): boolean {
    this.#pending.delete(maConn)
    return false
  }
}

import type { GossipSub } from '@libp2p/gossipsub'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import {
  P2PAbortedError,
  P2PConfigError,
  P2PStoppedError,
  P2PTimeoutError,
  P2PUnreachableError,
} from './errors.ts'
import { decodeBody, encodeFrame, FrameKind } from './frame.ts'
import { RateLimitedLog, readFrames, type StreamContext } from './frame-stream.ts'
import { loadOrCreatePeerKey } from './keys.ts'
import {
  createLibp2pHost,
  dialTargets,
  type Libp2pHost,
  type PeerAddress,
  YAMUX_MAX_WINDOW_BYTES,
} from './libp2p-host.ts'
import { P2PMetrics } from './metrics.ts'
import { type P2PNodeOptions, type ResolvedP2POptions, resolveP2POptions } from './options.ts'
import { PnetKeyRing } from './pnet-key-ring.ts'
import { RAFT_PROTOCOL, RaftOutbox } from './raft-outbox.ts'
import { type RequestHandler, type RequestOptions, RPC_PROTOCOL, RpcClient, serveStream } from './rpc.ts'
import { receiveOverStream, SNAPSHOT_PROTOCOL, type SnapshotHandler, sendOverStream } from './snapshot.ts'

interface KnownPeer {
  addrsKey: string
  targets: Multiaddr[]
  id: PeerId
}

export type RaftHandler = (from: string, frame: unknown) => void

/**
 * Called when the last open connection to `peer` closes (`connected` false:
 * the remote process died, a socket reset, or it closed the connection) and
 * when a first connection to it opens again (`connected` true).
 */
export type PeerConnectionHandler = (peer: string, connected: boolean) => void

/** What one peer's Raft queue holds now (for tests and debugging). */
export interface PeerQueueStats {
  queuedFrames: number
  queuedBytes: number
  /** Bytes libp2p holds for the peer's Raft stream, not yet on the connection. */
  bufferedBytes: number
  /** Bytes libp2p holds for the peer's rpc stream, not yet on the connection. */
  rpcBufferedBytes: number
  /** Requests to the peer waiting for an answer. */
  pendingRequests: number
}

/**
 * A cluster node's end of the node-to-node transport: libp2p over TCP in a
 * private network keyed by the cluster key, with Noise and Yamux, carrying
 * `/shoal/raft/1` (one-way, ordered, lossy under pressure), `/shoal/rpc/1`
 * (request/response) and `/shoal/snapshot/1` (checksummed chunk streams).
 * Handlers may be set before or after `start()`; a frame or request that
 * arrives with no handler is dropped (raft, counted `no_handler`) or
 * answered with the remote error code `no_handler`.
 */
export class P2PNode {
  readonly #opts: ResolvedP2POptions
  readonly metrics: P2PMetrics
  readonly #log: RateLimitedLog
  readonly #outboxes = new Map<string, RaftOutbox>()
  readonly #peers = new Map<string, KnownPeer>()
  readonly #rpcClients = new Map<string, RpcClient>()
  #libp2p: Libp2pHost | undefined
  #state: 'new' | 'starting' | 'running' | 'stopped' = 'new'
  #onRaft: RaftHandler | undefined
  #onRequest: RequestHandler | undefined
  #onSnapshot: SnapshotHandler | undefined
  #onPeerConnection: PeerConnectionHandler | undefined
  readonly #keyRing: PnetKeyRing

  /** Throws `P2PConfigError` for invalid options. */
  constructor(options: P2PNodeOptions) {
    this.#opts = resolveP2POptions(options)
    this.metrics = new P2PMetrics(this.#opts.registry, () => this.#queuedBytes())
    this.#log = new RateLimitedLog(this.#opts.logger, this.#opts.logIntervalMs)
    this.#keyRing = new PnetKeyRing([this.#opts.clusterKey, ...this.#opts.acceptedClusterKeys])
  }

  /**
   * Changes the cluster keys for connections opened from now on: send with
   * `sending`, accept it and every key of `accepted`. Open connections stay.
   * Throws `P2PConfigError` for a key shorter than 16 bytes.
   */
  setClusterKeys(sending: Uint8Array, accepted: readonly Uint8Array[] = []): void {
    this.#keyRing.set([sending, ...accepted])
  }

  /** Loads (or creates) the identity key, then listens. Throws `P2PConfigError`. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new P2PStoppedError(`start() called on a node that is ${this.#state}`)
    this.#state = 'starting'
    const opts = this.#opts
    const libp2p = await createLibp2pHost({
      privateKey: await loadOrCreatePeerKey(opts.dataDir),
      pnet: {
        keyRing: this.#keyRing,
        onKeyChoice: (index) =>
          this.metrics.pnetKeys.inc({
            key: index === undefined ? 'none' : index === 0 ? 'sending' : 'other',
          }),
      },
      listen: opts.listen,
      announce: opts.announce,
      dialTimeoutMs: opts.dialTimeoutMs,
      handshakeTimeoutMs: opts.handshakeTimeoutMs,
      maxReadBufferBytes: 2 * YAMUX_MAX_WINDOW_BYTES,
      pubsub: opts.pubsub,
      onHandshakeFailure: (direction) => {
        this.metrics.handshakeFailures.inc({ direction })
        this.#log.warn(
          `handshake:${direction}`,
          { direction },
          'p2p connection closed before its handshake completed (wrong cluster key?)',
        )
      },
    })
    const inbound = (protocol: string, serve: (stream: Stream, ctx: StreamContext) => void, max: number) =>
      libp2p.handle(
        protocol,
        (stream: Stream, connection: Connection) => serve(stream, this.#context(protocol, connection)),
        {
          maxInboundStreams: max,
          maxOutboundStreams: max,
        },
      )
    await inbound(RAFT_PROTOCOL, (stream, ctx) => this.#serveRaft(stream, ctx), 8)
    // One long-lived rpc stream per peer and direction; a few more allow for reopening.
    await inbound(
      RPC_PROTOCOL,
      (stream, ctx) => serveStream(stream, ctx, () => this.#onRequest, opts.maxInboundRequests),
      8,
    )
    await inbound(
      SNAPSHOT_PROTOCOL,
      (stream, ctx) => receiveOverStream(stream, ctx, this.#onSnapshot, opts.snapshotWindowBytes),
      8,
    )
    const peerEvent = (connected: boolean) => (event: CustomEvent<PeerId>) => {
      if (this.#state !== 'running') return
      try {
        this.#onPeerConnection?.(event.detail.toString(), connected)
      } catch (error) {
        this.#log.warn(
          'peer-handler',
          { error: (error as Error).message },
          'p2p peer connection handler threw',
        )
      }
    }
    libp2p.addEventListener('peer:disconnect', peerEvent(false))
    libp2p.addEventListener('peer:connect', peerEvent(true))
    try {
      await libp2p.start()
    } catch (cause) {
      this.#state = 'stopped'
      await Promise.resolve(libp2p.stop()).catch(() => {})
      const { host, port } = opts.listen
      throw new P2PConfigError(`cannot listen on ${host}:${port}: ${(cause as Error).message}`, { cause })
    }
    this.#libp2p = libp2p
    this.#state = 'running'
    opts.logger.info({ peerId: this.peerId, addrs: this.multiaddrs() }, 'p2p transport listening')
  }

  /** Drops queued Raft frames (counted `stopped`), closes every connection and stops listening. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return
    this.#state = 'stopped'
    for (const outbox of this.#outboxes.values()) outbox.stop()
    for (const client of this.#rpcClients.values())
      client.close(new P2PStoppedError('the node stopped'), true)
    await this.#libp2p?.stop()
  }

  get peerId(): string {
    return this.#running().peerId.toString()
  }

  /** The addresses to give others (announce address, or every listen address), each ending in `/p2p/<peerId>`. */
  multiaddrs(): string[] {
    return this.#running()
      .getMultiaddrs()
      .map((ma) => ma.toString())
  }

  /** This node as a `PeerAddress`, to hand to other nodes. */
  address(): PeerAddress {
    return { peerId: this.peerId, addrs: this.multiaddrs() }
  }

  /**
   * Queues one frame for `to` and returns at once. The frame is encoded now
   * (so the caller may reuse its value) and throws `P2PFrameTooLargeError`
   * past `maxFrameBytes`. Returns false when it was dropped: the peer's queue
   * is full (`peerQueueBytes` / `peerQueueFrames`), its last dial failed less
   * than `redialBackoffMs` ago, or the node is not running. Frames to one peer
   * arrive in order, with gaps where frames were lost.
   */
  sendRaft(to: PeerAddress, frame: unknown): boolean {
    const bytes = encodeFrame(FrameKind.raft, frame, this.#opts.maxFrameBytes)
    if (this.#state !== 'running') {
      this.metrics.framesDropped.inc({ peer: to.peerId, reason: 'stopped' })
      return false
    }
    return this.#outbox(to).enqueue(bytes)
  }

  /** The gossipsub service of a node started with `pubsub: true`; throws `P2PStoppedError` otherwise. */
  pubsub(): GossipSub {
    const service = this.#running().services.pubsub
    if (service === undefined) throw new P2PStoppedError('this p2p node runs no pubsub')
    return service
  }

  onRaft(handler: RaftHandler): void {
    this.#onRaft = handler
  }

  /**
   * Sends `body` to `to`'s request handler and resolves with its result.
   * Rejects with `P2PUnreachableError`, `P2PTimeoutError` (after
   * `timeoutMs`, dial included), `P2PAbortedError`, `P2PRemoteError` (the
   * handler threw; `remoteCode` is its code), `P2PFrameTooLargeError`,
   * `P2PProtocolError` or `P2PStoppedError`.
   */
  async request(to: PeerAddress, body: unknown, options: RequestOptions = {}): Promise<unknown> {
    const timeoutMs = options.timeoutMs ?? this.#opts.requestTimeoutMs
    return this.#rpcClient(to).call(body, timeoutMs, options.signal)
  }

  onRequest(handler: RequestHandler): void {
    this.#onRequest = handler
  }

  /**
   * Streams one snapshot to `to`: `meta` first, then `chunks` (cut to at
   * most `snapshotChunkBytes` each), each with its CRC32, then the totals.
   * Resolves once the remote handler has consumed it all and returned;
   * rejects with `P2PRemoteError` (code `checksum` when the receiver found
   * a mismatch, or the handler's code), or a transport error as `request`.
   * There is no deadline of its own (a snapshot takes as long as it takes):
   * a receiver that stops reading holds it until `signal` fires.
   */
  async sendSnapshot(
    to: PeerAddress,
    meta: unknown,
    chunks: AsyncIterable<Uint8Array>,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const dialSignal = AbortSignal.timeout(this.#opts.dialTimeoutMs)
    const signal = options.signal === undefined ? dialSignal : AbortSignal.any([dialSignal, options.signal])
    this.#resolve(to)
    const stream = await this.#openStream(
      to.peerId,
      SNAPSHOT_PROTOCOL,
      signal,
      this.#opts.dialTimeoutMs,
      options.signal,
    )
    const ctx = this.#context(SNAPSHOT_PROTOCOL, undefined, to.peerId)
    await sendOverStream(stream, meta, chunks, ctx, this.#opts.snapshotChunkBytes, options.signal)
  }

  onSnapshot(handler: SnapshotHandler): void {
    this.#onSnapshot = handler
  }

  /** Sets the handler of peer connection changes (see `PeerConnectionHandler`). */
  onPeerConnection(handler: PeerConnectionHandler): void {
    this.#onPeerConnection = handler
  }

  /** What waits towards `peerId`, or undefined when nothing was ever sent to it. */
  peerQueueStats(peerId: string): PeerQueueStats | undefined {
    const outbox = this.#outboxes.get(peerId)
    const rpc = this.#rpcClients.get(peerId)
    if (outbox === undefined && rpc === undefined) return undefined
    return {
      queuedFrames: outbox?.queuedFrames ?? 0,
      queuedBytes: outbox?.queuedBytes ?? 0,
      bufferedBytes: outbox?.bufferedBytes ?? 0,
      rpcBufferedBytes: rpc?.bufferedBytes ?? 0,
      pendingRequests: rpc?.pendingRequests ?? 0,
    }
  }

  #serveRaft(stream: Stream, ctx: StreamContext): void {
    readFrames(stream, [FrameKind.raft], ctx, {
      onFrame: (frame) => {
        const value = decodeBody(frame.body)
        const handler = this.#onRaft
        if (handler === undefined) {
          this.metrics.framesDropped.inc({ peer: ctx.peer, reason: 'no_handler' })
          return
        }
        try {
          handler(ctx.peer, value)
        } catch (error) {
          this.metrics.framesDropped.inc({ peer: ctx.peer, reason: 'handler_error' })
          this.#log.warn(
            'raft-handler',
            { peer: ctx.peer, error: (error as Error).message },
            'p2p raft handler threw; frame dropped',
          )
        }
      },
    })
  }

  #rpcClient(to: PeerAddress): RpcClient {
    this.#running()
    this.#resolve(to)
    let client = this.#rpcClients.get(to.peerId)
    if (client === undefined) {
      const dialTimeoutMs = this.#opts.dialTimeoutMs
      client = new RpcClient(this.#context(RPC_PROTOCOL, undefined, to.peerId), () =>
        this.#openStream(
          to.peerId,
          RPC_PROTOCOL,
          AbortSignal.timeout(dialTimeoutMs),
          dialTimeoutMs,
          undefined,
        ),
      )
      this.#rpcClients.set(to.peerId, client)
    }
    return client
  }

  #outbox(to: PeerAddress): RaftOutbox {
    this.#resolve(to)
    let outbox = this.#outboxes.get(to.peerId)
    if (outbox === undefined) {
      outbox = new RaftOutbox({
        peer: to.peerId,
        maxQueueBytes: this.#opts.peerQueueBytes,
        maxQueueFrames: this.#opts.peerQueueFrames,
        redialBackoffMs: this.#opts.redialBackoffMs,
        metrics: this.metrics,
        log: this.#log,
        openStream: () => this.#newStream(to.peerId, RAFT_PROTOCOL, dialSignal(this.#opts.dialTimeoutMs)),
      })
      this.#outboxes.set(to.peerId, outbox)
    }
    return outbox
  }

  /**
   * A stream to a peer already `#resolve`d (its latest addresses), with dial
   * failures as typed errors.
   */
  async #openStream(
    peerId: string,
    protocol: string,
    signal: AbortSignal,
    timeoutMs: number,
    callerSignal: AbortSignal | undefined,
  ): Promise<Stream> {
    try {
      return await this.#newStream(peerId, protocol, { signal })
    } catch (error) {
      if (this.#state !== 'running') throw new P2PStoppedError('the node stopped')
      if (callerSignal?.aborted) throw new P2PAbortedError('aborted by the caller while dialling')
      if (signal.aborted) throw new P2PTimeoutError(peerId, timeoutMs)
      throw new P2PUnreachableError(peerId, (error as Error).message, { cause: error, maybeSent: false })
    }
  }

  /**
   * The peer's parsed dial targets, parsed again only when its address list
   * changes (a restart on another port). One entry per peer ever addressed.
   */
  #resolve(to: PeerAddress): KnownPeer {
    const addrsKey = to.addrs.join(' ')
    const known = this.#peers.get(to.peerId)
    if (known !== undefined && known.addrsKey === addrsKey) return known
    const entry = { addrsKey, targets: dialTargets(to), id: peerIdFromString(to.peerId) }
    this.#peers.set(to.peerId, entry)
    return entry
  }

  /** A stream on the open connection to the peer, or on a new one to its latest addresses. */
  async #newStream(peerId: string, protocol: string, options: { signal: AbortSignal }): Promise<Stream> {
    const peer = this.#peers.get(peerId)!
    const libp2p = this.#running()
    const open = libp2p.getConnections(peer.id).find((connection) => connection.status === 'open')
    if (open !== undefined) {
      try {
        return await open.newStream(protocol, options)
      } catch (error) {
        if (options.signal.aborted || open.status === 'open') throw error
        // The connection closed under us: dial afresh below.
      }
    }
    return libp2p.dialProtocol(peer.targets, protocol, options)
  }

  #context(protocol: string, connection: Connection | undefined, peer?: string): StreamContext {
    return {
      protocol,
      peer: peer ?? connection?.remotePeer.toString() ?? 'unknown',
      maxFrameBytes: this.#opts.maxFrameBytes,
      metrics: this.metrics,
      log: this.#log,
    }
  }

  #running(): Libp2pHost {
    if (this.#state !== 'running' || this.#libp2p === undefined) {
      throw new P2PStoppedError(`the p2p node is ${this.#state}`)
    }
    return this.#libp2p
  }

  #queuedBytes(): number {
    let total = 0
    for (const outbox of this.#outboxes.values()) total += outbox.queuedBytes
    return total
  }
}

function dialSignal(timeoutMs: number): { signal: AbortSignal } {
  return { signal: AbortSignal.timeout(timeoutMs) }
}

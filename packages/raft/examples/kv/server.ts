/**
 * One member of the example replicated key-value service: Raft over TCP between
 * members, a framed TCP API for clients, state in a WAL-backed store (fsync on
 * every Ready). Run three: `node server.ts --id n1 --peers n1=127.0.0.1:7001:8001,... --dir /tmp/n1`.
 *
 * For fault tests:
 * - `--dial n2=127.0.0.1:9102,...` dials peers' Raft ports at other addresses
 *   (a fault proxy per link) while `--peers` keeps the addresses they listen on;
 * - the member's clock is its own tick timer; `--clock-rate` (and the `clock`
 *   request at runtime) makes it run faster or slower than real time;
 * - SIGUSR2 makes the next WAL fsync fail with EIO. Any storage error ends the
 *   process (exit code 70): the member is fail-stop and recovers by restarting.
 *
 * `--transport-module <file>` replaces the raw TCP framing between members
 * with the transport that module's `createTransport` returns (see
 * `transport-module.ts`); storage, fsync and the client port stay the same.
 * The server package's benchmarks use it to run this service over libp2p.
 */
import net from 'node:net'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { type FileSystem, NodeFileSystem, type WalFile } from '@shoal/wal'
import {
  type Message,
  type NormalEntry,
  NotLeaderError,
  RaftNode,
  type RaftStorage,
  type StateMachine,
  WalRaftStorage,
} from '../../src/index.ts'
import {
  FAILED,
  FrameReader,
  FrameWriter,
  type KvRequest,
  NOT_LEADER,
  OK,
  type PeerAddress,
  packr,
  parsePeers,
} from './protocol.ts'
import type { MemberTransport, TransportModule } from './transport-module.ts'

const { values: args } = parseArgs({
  options: {
    id: { type: 'string' },
    peers: { type: 'string' },
    dir: { type: 'string' },
    'tick-ms': { type: 'string', default: '100' },
    'election-ticks': { type: 'string', default: '10' },
    'heartbeat-ticks': { type: 'string', default: '1' },
    'snapshot-entries': { type: 'string', default: '10000' },
    dial: { type: 'string' },
    'clock-rate': { type: 'string', default: '1' },
    'transport-module': { type: 'string' },
  },
  strict: true,
})
const id = args.id as string
const peers = parsePeers(args.peers as string)
const self = peers.find((p) => p.id === id) as PeerAddress
const dial = new Map<string, { host: string; port: number }>(
  peers.map((p) => [p.id, { host: p.host, port: p.raftPort }]),
)
for (const entry of args.dial === undefined ? [] : args.dial.split(',')) {
  const [peer, address] = entry.split('=') as [string, string | undefined]
  const [host, port] = (address ?? '').split(':')
  if (!dial.has(peer) || host === undefined || !(Number(port) > 0)) {
    process.stderr.write(`--dial: '${entry}' is not peer=host:port for a known peer\n`)
    process.exit(2)
  }
  dial.set(peer, { host, port: Number(port) })
}

/** The replicated map. Commands: msgpack [op, key, value, expected]. */
class KvMachine implements StateMachine {
  values = new Map<string, string>()
  /** Snapshots received from a leader (not the one loaded at start). */
  snapshotsInstalled = 0
  started = false
  apply(entry: NormalEntry): unknown {
    const [op, key, value, expected] = packr.unpack(entry.data) as [string, string, string, string | null]
    if (op === 'put') {
      this.values.set(key, value)
      return true
    }
    const ok = (this.values.get(key) ?? null) === expected
    if (ok) this.values.set(key, value)
    return ok
  }
  snapshot(): Uint8Array {
    return packr.pack([...this.values])
  }
  restore(data: Uint8Array): void {
    this.values = new Map(data.byteLength === 0 ? [] : (packr.unpack(data) as Array<[string, string]>))
    if (this.started) this.snapshotsInstalled++
  }
}

/**
 * Outgoing Raft connections, one per peer, reconnecting on demand; messages to
 * an unreachable peer are dropped. A connection that closes or is refused is
 * reported to `onUnreachable`: when the peer's process is gone the OS closes
 * its sockets (and refuses new ones) at once, long before an election timeout.
 */
class TcpTransport {
  #sockets = new Map<string, FrameWriter>()
  #retryAt = new Map<string, number>()
  readonly #onUnreachable: (peer: string) => void
  constructor(onUnreachable: (peer: string) => void) {
    this.#onUnreachable = onUnreachable
  }
  send(to: string, messages: readonly Message[]): void {
    this.#socket(to)?.write(messages)
  }
  #socket(to: string): FrameWriter | null {
    const existing = this.#sockets.get(to)
    if (existing !== undefined) return existing
    if ((this.#retryAt.get(to) ?? 0) > Date.now()) return null
    const address = dial.get(to)
    if (address === undefined) return null
    const socket = net.connect({ host: address.host, port: address.port, noDelay: true })
    socket.on('error', () => {})
    socket.on('close', () => {
      this.#sockets.delete(to)
      this.#retryAt.set(to, Date.now() + 50)
      this.#onUnreachable(to)
    })
    const writer = new FrameWriter(socket)
    this.#sockets.set(to, writer)
    return writer
  }
}

/**
 * The member's clock: one Raft tick every `tickMs / clockRate` real
 * milliseconds. A rate above 1 is a clock running fast (elections time out
 * early), below 1 a slow one.
 */
let clockRate = 1
let clockTimer: ReturnType<typeof setInterval> | null = null
function setClockRate(rate: number): void {
  if (!(rate > 0)) throw new RangeError(`clock rate must be positive, got ${rate}`)
  clockRate = rate
  if (clockTimer !== null) clearInterval(clockTimer)
  clockTimer = setInterval(() => node.tick(), Number(args['tick-ms']) / rate)
}

/** Set by SIGUSR2: the next WAL fsync fails with EIO. */
let failNextSync = false
process.on('SIGUSR2', () => {
  failNextSync = true
})

function failStop(error: unknown): never {
  process.stderr.write(`storage failed, stopping: ${String(error)}\n`)
  process.exit(70)
}

/** The WAL's file system, with an fsync that fails on demand. */
function faultyFileSystem(inner: FileSystem): FileSystem {
  const wrapFile = (file: WalFile): WalFile => ({
    size: () => file.size(),
    read: (...a) => file.read(...a),
    write: (...a) => file.write(...a),
    sync: () => {
      if (!failNextSync) return file.sync()
      failNextSync = false
      return Promise.reject(Object.assign(new Error('EIO: injected fsync failure'), { code: 'EIO' }))
    },
    truncate: (length) => file.truncate(length),
    close: () => file.close(),
  })
  return {
    mkdirp: (dir) => inner.mkdirp(dir),
    list: (dir) => inner.list(dir),
    openRead: async (p) => wrapFile(await inner.openRead(p)),
    openWrite: async (p, o) => wrapFile(await inner.openWrite(p, o)),
    rename: (a, b) => inner.rename(a, b),
    remove: (p) => inner.remove(p),
    syncDir: (dir) => inner.syncDir(dir),
  }
}

/**
 * Storage whose every failed write ends the process: after a failed fsync the
 * page cache may no longer match the disk, so the member never retries; it
 * stops and recovers from what is durable when restarted.
 */
function failStopStorage(inner: RaftStorage): RaftStorage {
  return {
    load: () => inner.load(),
    save: (batch) => inner.save(batch).catch(failStop),
    saveSnapshot: (snapshot) => inner.saveSnapshot(snapshot).catch(failStop),
    close: () => inner.close(),
  }
}

/**
 * Where Raft messages go: the raw TCP transport, or (with
 * `--transport-module`) nowhere until that module's transport is up, after
 * which it carries them. Raft tolerates the loss.
 */
const transportModule = args['transport-module']
let transport: MemberTransport =
  transportModule === undefined
    ? // A suspicion only (RaftNode.peerUnreachable): the leader's other followers still refuse a needless campaign.
      new TcpTransport((peer) => node.peerUnreachable(peer))
    : { send: () => {} }

const machine = new KvMachine()
const storage = new WalRaftStorage(args.dir as string, {
  bootstrap: { voters: peers.map((p) => p.id), learners: [] },
  // Preallocated segments: fdatasync then need not update the file size (as etcd's WAL does).
  wal: { preallocate: true, segmentBytes: 16 * 1024 * 1024, fs: faultyFileSystem(new NodeFileSystem()) },
})
const node = new RaftNode({
  raft: {
    id,
    electionTicks: Number(args['election-ticks']),
    heartbeatTicks: Number(args['heartbeat-ticks']),
  },
  storage: failStopStorage(storage),
  transport: { send: (to, messages) => transport.send(to, messages) },
  stateMachine: machine,
  tickMs: 0,
  snapshotEntries: Number(args['snapshot-entries']),
})

const raftServer = net.createServer((socket) => {
  socket.setNoDelay(true)
  socket.on('error', () => {})
  const reader = new FrameReader(
    (value) => {
      for (const message of value as Message[]) node.receive(message)
    },
    () => socket.destroy(),
  )
  socket.on('data', (chunk) => reader.push(chunk))
})

function clientAddress(leader: string | null): string | null {
  const peer = peers.find((p) => p.id === leader)
  return peer === undefined ? null : `${peer.host}:${peer.clientPort}`
}

async function handle(request: KvRequest): Promise<[0 | 1 | 2, unknown]> {
  const [, op, key, value, expected] = request
  try {
    switch (op) {
      case 'put':
        return [OK, await node.propose(packr.pack(['put', key, value, null]))]
      case 'cas':
        return [OK, await node.propose(packr.pack(['cas', key, value, expected ?? null]))]
      case 'get':
        await node.read()
        return [OK, machine.values.get(key as string) ?? null]
      case 'local':
        return [OK, machine.values.get(key as string) ?? null]
      case 'status':
        return [OK, { ...node.status(), snapshotsInstalled: machine.snapshotsInstalled, clockRate }]
      case 'clock': {
        const rate = Number(value)
        if (!(rate > 0 && rate <= 100)) return [FAILED, `clock rate must be in (0, 100], got ${value}`]
        setClockRate(rate)
        return [OK, clockRate]
      }
      default:
        return [FAILED, `unknown op ${String(op)}`]
    }
  } catch (error) {
    if (error instanceof NotLeaderError) return [NOT_LEADER, clientAddress(error.leader)]
    return [FAILED, String(error)]
  }
}

const clientServer = net.createServer((socket) => {
  socket.setNoDelay(true)
  socket.on('error', () => {})
  const writer = new FrameWriter(socket)
  const reader = new FrameReader(
    (value) => {
      const request = value as KvRequest
      handle(request).then(([status, result]) => writer.write([request[0], status, result]))
    },
    () => socket.destroy(),
  )
  socket.on('data', (chunk) => reader.push(chunk))
})

await node.start()
machine.started = true
setClockRate(Number(args['clock-rate']))
if (transportModule === undefined) {
  await new Promise<void>((resolve) => raftServer.listen(self.raftPort, self.host, resolve))
} else {
  const loaded = (await import(pathToFileURL(path.resolve(transportModule)).href)) as Partial<TransportModule>
  if (typeof loaded.createTransport !== 'function') {
    process.stderr.write(`--transport-module: ${transportModule} exports no createTransport function\n`)
    process.exit(2)
  }
  transport = await loaded.createTransport({
    id,
    peers,
    dir: args.dir as string,
    receive: (messages) => {
      for (const message of messages) node.receive(message)
    },
  })
}
await new Promise<void>((resolve) => clientServer.listen(self.clientPort, self.host, resolve))
process.stdout.write(`ready ${id}\n`)

process.on('SIGTERM', () => {
  void (async () => {
    await node.stop()
    await transport.close?.()
    await storage.close()
    process.exit(0)
  })()
})

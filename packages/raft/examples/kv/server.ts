/**
 * One member of the example replicated key-value service: Raft over TCP between
 * members, a framed TCP API for clients, state in a WAL-backed store (fsync on
 * every Ready). Run three: `node server.ts --id n1 --peers n1=127.0.0.1:7001:8001,... --dir /tmp/n1`.
 */
import net from 'node:net'
import { parseArgs } from 'node:util'
import {
  type Message,
  type NormalEntry,
  NotLeaderError,
  RaftNode,
  type StateMachine,
  WalRaftStorage,
} from '../../src/index.ts'
import {
  FAILED,
  FrameReader,
  frame,
  type KvRequest,
  NOT_LEADER,
  OK,
  type PeerAddress,
  packr,
  parsePeers,
} from './protocol.ts'

const { values: args } = parseArgs({
  options: {
    id: { type: 'string' },
    peers: { type: 'string' },
    dir: { type: 'string' },
    'tick-ms': { type: 'string', default: '100' },
    'election-ticks': { type: 'string', default: '10' },
    'heartbeat-ticks': { type: 'string', default: '1' },
    'snapshot-entries': { type: 'string', default: '10000' },
  },
})
const id = args.id as string
const peers = parsePeers(args.peers as string)
const self = peers.find((p) => p.id === id) as PeerAddress

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

/** Outgoing Raft connections, one per peer, reconnecting on demand; messages to an unreachable peer are dropped. */
class TcpTransport {
  #sockets = new Map<string, net.Socket>()
  #retryAt = new Map<string, number>()
  send(to: string, messages: readonly Message[]): void {
    const socket = this.#socket(to)
    if (socket !== null) socket.write(frame(messages))
  }
  #socket(to: string): net.Socket | null {
    const existing = this.#sockets.get(to)
    if (existing !== undefined) return existing
    if ((this.#retryAt.get(to) ?? 0) > Date.now()) return null
    const peer = peers.find((p) => p.id === to)
    if (peer === undefined) return null
    const socket = net.connect({ host: peer.host, port: peer.raftPort, noDelay: true })
    socket.on('error', () => {})
    socket.on('close', () => {
      this.#sockets.delete(to)
      this.#retryAt.set(to, Date.now() + 50)
    })
    this.#sockets.set(to, socket)
    return socket
  }
}

const machine = new KvMachine()
const storage = new WalRaftStorage(args.dir as string, {
  bootstrap: { voters: peers.map((p) => p.id), learners: [] },
  // Preallocated segments: fdatasync then need not update the file size (as etcd's WAL does).
  wal: { preallocate: true, segmentBytes: 16 * 1024 * 1024 },
})
const node = new RaftNode({
  raft: {
    id,
    electionTicks: Number(args['election-ticks']),
    heartbeatTicks: Number(args['heartbeat-ticks']),
  },
  storage,
  transport: new TcpTransport(),
  stateMachine: machine,
  tickMs: Number(args['tick-ms']),
  snapshotEntries: Number(args['snapshot-entries']),
})

const raftServer = net.createServer((socket) => {
  socket.setNoDelay(true)
  socket.on('error', () => {})
  const reader = new FrameReader((value) => {
    for (const message of value as Message[]) node.receive(message)
  })
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
        return [OK, { ...node.status(), snapshotsInstalled: machine.snapshotsInstalled }]
    }
  } catch (error) {
    if (error instanceof NotLeaderError) return [NOT_LEADER, clientAddress(error.leader)]
    return [FAILED, String(error)]
  }
}

const clientServer = net.createServer((socket) => {
  socket.setNoDelay(true)
  socket.on('error', () => {})
  const reader = new FrameReader((value) => {
    const request = value as KvRequest
    handle(request).then(([status, result]) => {
      if (!socket.destroyed) socket.write(frame([request[0], status, result]))
    })
  })
  socket.on('data', (chunk) => reader.push(chunk))
})

await node.start()
machine.started = true
await new Promise<void>((resolve) => raftServer.listen(self.raftPort, self.host, resolve))
await new Promise<void>((resolve) => clientServer.listen(self.clientPort, self.host, resolve))
process.stdout.write(`ready ${id}\n`)

process.on('SIGTERM', () => {
  void (async () => {
    await node.stop()
    await storage.close()
    process.exit(0)
  })()
})

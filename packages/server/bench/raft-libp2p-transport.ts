/**
 * The Raft KV example's member-to-member transport over Shoal's libp2p node
 * (`P2PNode`: TCP, pnet keyed by the cluster key, Noise, Yamux,
 * `/shoal/raft/1` frames), loaded into each member with `server.ts
 * --transport-module`. Only the raft suite's libp2p comparison uses it.
 *
 * The cluster key comes from `SHOAL_KV_CLUSTER_KEY` (hex, at least 16
 * bytes). Each member's libp2p identity is derived from it and the member
 * id (HKDF-SHA256 seed of an Ed25519 key), so every member knows every peer
 * id without an exchange; the member's own key is written where `P2PNode`
 * reads it (`<dir>.p2p/p2p-peer.key`, mode 0600), beside its data directory.
 */
import { hkdfSync } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { generateKeyPairFromSeed, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Message } from '@shoal/raft'
import type { MemberTransport, TransportModuleOptions } from '../../raft/examples/kv/transport-module.ts'
import { P2PNode, PEER_KEY_FILE, type PeerAddress } from '../src/internal/p2p/index.ts'

export const CLUSTER_KEY_ENV = 'SHOAL_KV_CLUSTER_KEY'

function clusterKey(): Buffer {
  const hex = process.env[CLUSTER_KEY_ENV] ?? ''
  const key = Buffer.from(hex, 'hex')
  if (key.byteLength < 16 || key.toString('hex') !== hex.toLowerCase()) {
    throw new Error(`${CLUSTER_KEY_ENV} must hold a cluster key of at least 16 bytes in hex`)
  }
  return key
}

async function memberKey(key: Buffer, id: string) {
  const seed = new Uint8Array(hkdfSync('sha256', key, 'shoal-kv-bench', `member:${id}`, 32))
  return generateKeyPairFromSeed('Ed25519', seed)
}

export async function createTransport(options: TransportModuleOptions): Promise<MemberTransport> {
  const key = clusterKey()
  const addresses = new Map<string, PeerAddress>()
  for (const peer of options.peers) {
    const peerId = peerIdFromPrivateKey(await memberKey(key, peer.id)).toString()
    addresses.set(peer.id, { peerId, addrs: [`/ip4/${peer.host}/tcp/${peer.raftPort}/p2p/${peerId}`] })
  }
  const self = options.peers.find((p) => p.id === options.id)
  if (self === undefined) throw new Error(`member ${options.id} is not among the peers`)
  const dataDir = `${path.resolve(options.dir)}.p2p`
  await mkdir(dataDir, { recursive: true })
  await writeFile(path.join(dataDir, PEER_KEY_FILE), privateKeyToProtobuf(await memberKey(key, options.id)), {
    mode: 0o600,
  })
  const node = new P2PNode({ dataDir, clusterKey: key, listen: { host: self.host, port: self.raftPort } })
  node.onRaft((_from, frame) => options.receive(frame as Message[]))
  await node.start()
  return {
    send(to, messages) {
      const address = addresses.get(to)
      if (address !== undefined) node.sendRaft(address, messages)
    },
    close: () => node.stop(),
  }
}

import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { derivePnetKey, P2PNode, type P2PNodeOptions, type PeerAddress } from '../src/internal/p2p/index.ts'
import { createLibp2pHost } from '../src/internal/p2p/libp2p-host.ts'

/** Real nodes on 127.0.0.1 with ephemeral ports and temporary data dirs; `close()` stops and removes them all. */
export class P2PCluster {
  readonly clusterKey = randomBytes(32)
  readonly #nodes: P2PNode[] = []
  readonly #raw: Libp2p[] = []
  readonly #dirs: string[] = []

  async dataDir(): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-p2p-'))
    this.#dirs.push(dir)
    return dir
  }

  /** A started node; `options` override the defaults (its own data dir, this cluster's key). */
  async node(options: Partial<P2PNodeOptions> = {}): Promise<P2PNode> {
    const node = new P2PNode({
      dataDir: options.dataDir ?? (await this.dataDir()),
      clusterKey: this.clusterKey,
      listen: { host: '127.0.0.1', port: 0 },
      ...options,
    })
    this.#nodes.push(node)
    await node.start()
    return node
  }

  /**
   * A bare libp2p host with the same transport stack (and this cluster's
   * key unless told otherwise), to speak the protocols by hand.
   */
  async rawHost(clusterKey: Uint8Array = this.clusterKey): Promise<Libp2p> {
    const host = await createLibp2pHost({
      privateKey: await generateKeyPair('Ed25519'),
      pnet: { pnetKey: derivePnetKey(clusterKey) },
      listen: { host: '127.0.0.1', port: 0 },
      dialTimeoutMs: 5000,
      handshakeTimeoutMs: 5000,
      maxReadBufferBytes: 8 * 1024 * 1024,
    })
    this.#raw.push(host)
    await host.start()
    return host
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#nodes.map((n) => n.stop()), ...this.#raw.map((h) => h.stop())])
    await Promise.allSettled(this.#dirs.map((dir) => rm(dir, { recursive: true, force: true })))
  }
}

export function rawAddress(host: Libp2p): PeerAddress {
  return { peerId: host.peerId.toString(), addrs: host.getMultiaddrs().map((ma) => ma.toString()) }
}

/** The value of one sample of a metric in the node's registry (0 when absent). */
export async function metricValue(
  node: P2PNode,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = node.metrics.registry.getSingleMetric(name)
  if (metric === undefined) throw new Error(`no metric ${name}`)
  const { values } = await metric.get()
  let total = 0
  for (const sample of values) {
    const sampleLabels = sample.labels as Record<string, string | number>
    if (Object.entries(labels).every(([k, v]) => String(sampleLabels[k]) === v)) total += sample.value
  }
  return total
}

/** Polls `check` every 20 ms until it returns true, or throws after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = performance.now() + timeoutMs
  while (!(await check())) {
    if (performance.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Resolves when `stream` closes, with the error it closed with (undefined for a clean close). */
export function closed(stream: Stream): Promise<Error | undefined> {
  if (stream.status !== 'open' && stream.status !== 'closing') return Promise.resolve(undefined)
  return new Promise((resolve) =>
    stream.addEventListener('close', (event) => resolve(event.error), { once: true }),
  )
}

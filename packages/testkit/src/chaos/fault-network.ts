import { ChaosConfigError } from './errors.ts'
import { FaultTable, type Link } from './fault-table.ts'
import type { CutMode, LinkFaults } from './link-faults.ts'
import { linksBetweenGroups } from './partitions.ts'
import { TcpLinkProxy, type TcpProxyStats } from './tcp-link-proxy.ts'
import { UdpLinkProxy, type UdpProxyStats } from './udp-link-proxy.ts'

export interface Endpoint {
  /** @defaultValue '127.0.0.1' */
  host?: string
  port: number
}

export interface FaultNetworkOptions {
  /** The names of the nodes whose links go through the proxies. */
  nodes: readonly string[]
  /** Seed of every random draw the proxies make. */
  seed: number
  /** Clock in milliseconds (for delays and spikes). @defaultValue performance.now */
  now?: () => number
}

/**
 * The proxies between a set of nodes: one per directed link and protocol, all
 * reading one `FaultTable`. Each node is told to dial `dial(self, peer)`
 * instead of the peer's own address; then every byte between two nodes passes
 * a proxy, and `set`, `partition`, `heal` change what happens to it at runtime.
 *
 * @example
 * const network = new FaultNetwork({ nodes: ['a', 'b', 'c'], seed: 7 })
 * await network.tcpMesh({ a: { port: 7001 }, b: { port: 7002 }, c: { port: 7003 } })
 * // start a with peers b=network.dial('a', 'b'), c=network.dial('a', 'c'), …
 * network.partition([['a'], ['b', 'c']])
 * network.table.setAll({ latencyMs: 20, jitterMs: 10 })
 * network.heal()
 */
export class FaultNetwork {
  readonly table: FaultTable
  readonly #tcp = new Map<string, TcpLinkProxy>()
  readonly #udp = new Map<string, UdpLinkProxy>()

  constructor(options: FaultNetworkOptions) {
    const tableOptions: { nodes: readonly string[]; seed: number; now?: () => number } = {
      nodes: options.nodes,
      seed: options.seed,
    }
    if (options.now !== undefined) tableOptions.now = options.now
    this.table = new FaultTable(tableOptions)
  }

  get nodes(): readonly string[] {
    return this.table.nodes
  }

  /** A TCP proxy for the link `from` → `to`, forwarding to `target` (`to`'s real address). */
  async addTcp(from: string, to: string, target: Endpoint, listen?: Endpoint): Promise<TcpLinkProxy> {
    const name = `${from}>${to}`
    if (this.#tcp.has(name)) throw new ChaosConfigError(`a TCP proxy for ${from} → ${to} exists already`)
    const proxy = new TcpLinkProxy({
      table: this.table,
      from,
      to,
      target: { host: target.host ?? '127.0.0.1', port: target.port },
      ...(listen === undefined ? {} : { listen }),
    })
    await proxy.start()
    this.#tcp.set(name, proxy)
    return proxy
  }

  /** A UDP proxy for the link `from` → `to`, forwarding to `target`. */
  async addUdp(from: string, to: string, target: Endpoint, listen?: Endpoint): Promise<UdpLinkProxy> {
    const name = `${from}>${to}`
    if (this.#udp.has(name)) throw new ChaosConfigError(`a UDP proxy for ${from} → ${to} exists already`)
    const proxy = new UdpLinkProxy({
      table: this.table,
      from,
      to,
      target: { host: target.host ?? '127.0.0.1', port: target.port },
      ...(listen === undefined ? {} : { listen }),
    })
    await proxy.start()
    this.#udp.set(name, proxy)
    return proxy
  }

  /** TCP proxies for every ordered pair of nodes; `targets` maps each node to the address it listens on. */
  async tcpMesh(targets: Readonly<Record<string, Endpoint>>): Promise<void> {
    for (const from of this.nodes)
      for (const to of this.nodes) if (from !== to) await this.addTcp(from, to, this.#target(targets, to))
  }

  /** UDP proxies for every ordered pair of nodes. */
  async udpMesh(targets: Readonly<Record<string, Endpoint>>): Promise<void> {
    for (const from of this.nodes)
      for (const to of this.nodes) if (from !== to) await this.addUdp(from, to, this.#target(targets, to))
  }

  /** The address `from` must dial to reach `to` through the proxy. */
  dial(from: string, to: string, protocol: 'tcp' | 'udp' = 'tcp'): string {
    const proxy = (protocol === 'tcp' ? this.#tcp : this.#udp).get(`${from}>${to}`)
    if (proxy === undefined) throw new ChaosConfigError(`no ${protocol} proxy for ${from} → ${to}`)
    return proxy.address
  }

  /** Every proxied link: who dials whom, over which protocol, at which proxy address. */
  links(): Array<{ from: string; to: string; protocol: 'tcp' | 'udp'; address: string }> {
    return [
      ...[...this.#tcp.values()].map((p) => ({
        from: p.from,
        to: p.to,
        protocol: 'tcp' as const,
        address: p.address,
      })),
      ...[...this.#udp.values()].map((p) => ({
        from: p.from,
        to: p.to,
        protocol: 'udp' as const,
        address: p.address,
      })),
    ]
  }

  /** Changes the faults of one directed link. */
  set(from: string, to: string, change: Partial<LinkFaults>): void {
    this.table.set(from, to, change)
  }

  /** Cuts the given directed links. */
  cut(links: readonly Link[], mode: Exclude<CutMode, 'none'> = 'reset'): void {
    for (const { from, to } of links) this.table.set(from, to, { cut: mode })
  }

  /** Cuts every link between nodes of different groups, both ways. */
  partition(groups: readonly (readonly string[])[], mode: Exclude<CutMode, 'none'> = 'reset'): Link[] {
    const links = linksBetweenGroups(groups)
    this.cut(links, mode)
    return links
  }

  /** Every link back to no faults (connections with a gap from a blackhole are closed). */
  heal(): void {
    this.table.heal()
  }

  /** Closes the open TCP connections between `a` and `b` (both directions), or all when no node is given. */
  dropConnections(a?: string, b?: string): number {
    let count = 0
    for (const proxy of this.#tcp.values()) {
      const matches =
        a === undefined ||
        (b === undefined
          ? proxy.from === a || proxy.to === a
          : (proxy.from === a && proxy.to === b) || (proxy.from === b && proxy.to === a))
      if (matches) count += proxy.dropConnections()
    }
    return count
  }

  /** Counters summed over all proxies. */
  stats(): { tcp: TcpProxyStats; udp: UdpProxyStats } {
    const tcp: TcpProxyStats = {
      connections: 0,
      refused: 0,
      chunks: 0,
      bytes: 0,
      delayed: 0,
      stalls: 0,
      corrupted: 0,
      resets: 0,
      blackholed: 0,
    }
    const udp: UdpProxyStats = {
      datagrams: 0,
      dropped: 0,
      duplicated: 0,
      reordered: 0,
      corrupted: 0,
      delayed: 0,
    }
    for (const proxy of this.#tcp.values()) for (const key of keys(tcp)) tcp[key] += proxy.stats[key]
    for (const proxy of this.#udp.values()) for (const key of keys(udp)) udp[key] += proxy.stats[key]
    return { tcp, udp }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#tcp.values(), ...this.#udp.values()].map((p) => p.stop()))
    this.#tcp.clear()
    this.#udp.clear()
  }

  #target(targets: Readonly<Record<string, Endpoint>>, node: string): Endpoint {
    const target = targets[node]
    if (target === undefined) throw new ChaosConfigError(`no address for node '${node}'`)
    return target
  }
}

function keys<T extends object>(value: T): Array<keyof T> {
  return Object.keys(value) as Array<keyof T>
}

import { Rng } from '../rng/index.ts'
import { ChaosConfigError } from './errors.ts'
import { isClean, type LinkFaults, NO_FAULTS, resolveLinkFaults } from './link-faults.ts'

/** A directed link: traffic from `from` to `to`. */
export interface Link {
  from: string
  to: string
}

/** What a proxy needs to decide the fate of one chunk or datagram. */
export interface LinkState {
  faults: LinkFaults
  /** The link's own generator: its draws do not depend on traffic on other links. */
  rng: Rng
  /** When the current spike setting was made (ms on the table's clock). */
  spikeSince: number
}

export type LinkListener = (link: Link, faults: LinkFaults, previous: LinkFaults) => void

/**
 * The faults of every directed link between named nodes, changed at runtime
 * and read by the proxies on each chunk. Randomness comes from one seed: each
 * link gets a generator derived from the seed and the link's name, so the
 * draws on one link are the same whatever happens on the others.
 */
export class FaultTable {
  readonly seed: number
  readonly nodes: readonly string[]
  readonly now: () => number
  #links = new Map<string, LinkState>()
  #listeners = new Set<LinkListener>()

  constructor(options: { nodes: readonly string[]; seed: number; now?: () => number }) {
    if (new Set(options.nodes).size !== options.nodes.length)
      throw new ChaosConfigError('node names must be distinct')
    this.nodes = [...options.nodes]
    this.seed = options.seed
    this.now = options.now ?? (() => performance.now())
  }

  /** The state of the link from `from` to `to` (created clean on first use). */
  link(from: string, to: string): LinkState {
    this.#check(from, to)
    const name = `${from}>${to}`
    let state = this.#links.get(name)
    if (state === undefined) {
      state = { faults: NO_FAULTS, rng: new Rng(mix(this.seed, name)), spikeSince: this.now() }
      this.#links.set(name, state)
    }
    return state
  }

  faults(from: string, to: string): LinkFaults {
    return this.link(from, to).faults
  }

  /** Changes some faults of one directed link, keeping the others. */
  set(from: string, to: string, change: Partial<LinkFaults>): void {
    const state = this.link(from, to)
    const previous = state.faults
    state.faults = resolveLinkFaults(change, previous)
    if (change.spike !== undefined) state.spikeSince = this.now()
    for (const listener of this.#listeners) listener({ from, to }, state.faults, previous)
  }

  /** Replaces all faults of one directed link. */
  replace(from: string, to: string, faults: Partial<LinkFaults>): void {
    this.set(from, to, { ...NO_FAULTS, ...faults })
  }

  /** Applies `change` to both directions between `a` and `b`. */
  setBoth(a: string, b: string, change: Partial<LinkFaults>): void {
    this.set(a, b, change)
    this.set(b, a, change)
  }

  /** Applies `change` to every directed link between distinct nodes. */
  setAll(change: Partial<LinkFaults>): void {
    for (const from of this.nodes) for (const to of this.nodes) if (from !== to) this.set(from, to, change)
  }

  /** Every link back to no faults. */
  heal(): void {
    for (const [name, state] of this.#links) {
      if (isClean(state.faults)) continue
      const [from, to] = name.split('>') as [string, string]
      this.replace(from, to, {})
    }
  }

  /** Links with any fault, for reports. */
  active(): Array<Link & { faults: LinkFaults }> {
    const out: Array<Link & { faults: LinkFaults }> = []
    for (const [name, state] of this.#links) {
      if (isClean(state.faults)) continue
      const [from, to] = name.split('>') as [string, string]
      out.push({ from, to, faults: state.faults })
    }
    return out
  }

  /** Called after every change; returns the function that unsubscribes. */
  onChange(listener: LinkListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  #check(from: string, to: string): void {
    if (!this.nodes.includes(from)) throw new ChaosConfigError(`unknown node '${from}'`)
    if (!this.nodes.includes(to)) throw new ChaosConfigError(`unknown node '${to}'`)
    if (from === to) throw new ChaosConfigError(`a link needs two distinct nodes, got '${from}' twice`)
  }
}

/** The delay a chunk or datagram gets on this link now: base latency, jitter and any spike in progress. */
export function drawDelayMs(state: LinkState, now: number): number {
  const { latencyMs, jitterMs, spike } = state.faults
  let delay = latencyMs
  if (jitterMs > 0) delay += state.rng.next() * jitterMs
  if (spike !== null && (now - state.spikeSince) % spike.everyMs < spike.durationMs) delay += spike.extraMs
  return delay
}

/** Replaces one random byte of `bytes` (in place) by a different value. */
export function corruptOneByte(bytes: Uint8Array, rng: Rng): void {
  if (bytes.length === 0) return
  const at = rng.int(bytes.length)
  bytes[at] = ((bytes[at] as number) + 1 + rng.int(255)) & 0xff
}

/** A 32-bit seed from a seed and a name (FNV-1a over the name, mixed with the seed). */
function mix(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0
  return h | 0
}

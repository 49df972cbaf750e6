/**
 * Partitions as sets of directed links to cut. Pure functions of node names
 * (and an `Rng` where a choice is random), so a scenario's cuts are the same
 * for the same seed.
 */
import type { Rng } from '../rng/index.ts'
import { ChaosConfigError } from './errors.ts'
import type { Link } from './fault-table.ts'

/** Every directed link between nodes of different groups: the groups cannot talk to each other. */
export function linksBetweenGroups(groups: readonly (readonly string[])[]): Link[] {
  const seen = new Set<string>()
  for (const group of groups)
    for (const node of group) {
      if (seen.has(node)) throw new ChaosConfigError(`node '${node}' is in two groups`)
      seen.add(node)
    }
  const links: Link[] = []
  for (const [i, group] of groups.entries())
    for (const [j, other] of groups.entries()) {
      if (i === j) continue
      for (const from of group) for (const to of other) links.push({ from, to })
    }
  return links
}

/** `node` alone on one side, everyone else on the other. */
export function isolate(nodes: readonly string[], node: string): string[][] {
  if (!nodes.includes(node)) throw new ChaosConfigError(`unknown node '${node}'`)
  return [[node], nodes.filter((n) => n !== node)]
}

/** A random split into a majority and a minority (the minority has ⌊n/2⌋ nodes, at least one). */
export function randomHalves(nodes: readonly string[], rng: Rng): string[][] {
  if (nodes.length < 2) throw new ChaosConfigError('a partition needs at least two nodes')
  const shuffled = rng.shuffle([...nodes])
  const minority = Math.max(1, Math.floor(nodes.length / 2))
  return [shuffled.slice(minority), shuffled.slice(0, minority)]
}

/**
 * A bridge: two halves that cannot talk to each other, and one node (the
 * bridge) that talks to both. Returns the links to cut and the bridge.
 */
export function bridge(nodes: readonly string[], rng: Rng): { bridge: string; cut: Link[] } {
  if (nodes.length < 3) throw new ChaosConfigError('a bridge needs at least three nodes')
  const shuffled = rng.shuffle([...nodes])
  const middle = shuffled[0] as string
  const rest = shuffled.slice(1)
  const half = Math.ceil(rest.length / 2)
  return { bridge: middle, cut: linksBetweenGroups([rest.slice(0, half), rest.slice(half)]) }
}

/**
 * A ring: each node talks only to its two neighbours in a random cyclic order;
 * every other link is cut (with five nodes each one sees a different majority).
 */
export function ring(nodes: readonly string[], rng: Rng): Link[] {
  const order = rng.shuffle([...nodes])
  const n = order.length
  const neighbours = (i: number, j: number) => (i - j + n) % n === 1 || (j - i + n) % n === 1
  const links: Link[] = []
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++)
      if (i !== j && !neighbours(i, j)) links.push({ from: order[i] as string, to: order[j] as string })
  return links
}

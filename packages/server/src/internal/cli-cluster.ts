import { ConfigError } from './errors.ts'
import type { NodeClient } from './http-client.ts'

/** What `GET /_admin/cluster` answers (the parts the CLI prints). */
interface AdminView {
  clusterId: string | null
  metadataLeader: string | null
  nodes: Array<{ id: string; name: string; state: string; alive: boolean; zone: string; replicas: number }>
  shards: { total: number; underReplicated: number }
  moves: {
    inFlight: Array<{
      index: string
      shard: number
      to: string | null
      from: string | null
      progress: number
    }>
    waiting: number
  }
  plan: Array<{ index: string; shard: number; from: string | null; to: string | null; reason: string }>
  unplaceable: Array<{ index: string; reason: string }>
}

interface Move {
  index: string
  shard: number
  from: string | null
  to: string | null
  reason: string
}

export interface ClusterCommandOptions {
  readonly out: (text: string) => void
  /** Progress lines (stderr). */
  readonly progress: (text: string) => void
  /** Poll interval while waiting. @defaultValue 1000 */
  readonly intervalMs?: number
  /** Give up waiting after this long (0: do not wait). @defaultValue 3600000 */
  readonly waitMs?: number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function short(id: string | null, view: AdminView): string {
  if (id === null) return '-'
  return view.nodes.find((n) => n.id === id)?.name ?? id.slice(-8)
}

/** The cluster overview as text: nodes, shards, moves. */
export function describeCluster(view: AdminView): string {
  const lines = [
    `cluster ${view.clusterId ?? '?'}; metadata leader ${short(view.metadataLeader, view)}`,
    'NODE                 STATE      LIVE  ZONE        REPLICAS  ID',
  ]
  for (const n of view.nodes)
    lines.push(
      `${n.name.padEnd(20)} ${n.state.padEnd(10)} ${(n.alive ? 'yes' : 'no').padEnd(5)} ${(n.zone || '-').padEnd(11)} ${String(n.replicas).padStart(8)}  ${n.id}`,
    )
  lines.push(`shards: ${view.shards.total}, under-replicated: ${view.shards.underReplicated}`)
  lines.push(`moves in flight: ${view.moves.inFlight.length}, waiting: ${view.moves.waiting}`)
  for (const m of view.moves.inFlight)
    lines.push(
      `  ${m.index}/${m.shard}: ${short(m.from, view)} -> ${short(m.to, view)} ${Math.round(m.progress * 100)}%`,
    )
  for (const m of view.plan)
    lines.push(`  next: ${m.index}/${m.shard}: ${short(m.from, view)} -> ${short(m.to, view)} (${m.reason})`)
  for (const u of view.unplaceable) lines.push(`  cannot place ${u.index}: ${u.reason}`)
  return `${lines.join('\n')}\n`
}

/** Polls the overview until `done` holds, printing progress when it changes. */
async function waitUntil(
  client: NodeClient,
  options: ClusterCommandOptions,
  what: string,
  done: (view: AdminView) => boolean,
): Promise<AdminView> {
  const deadline = Date.now() + (options.waitMs ?? 3_600_000)
  let last = ''
  for (;;) {
    const view = await client.request<AdminView>('GET', '/_admin/cluster')
    if (done(view)) return view
    const line = `${what}: ${view.moves.inFlight.length} move(s) in flight${view.moves.inFlight
      .map((m) => ` [${m.index}/${m.shard} -> ${short(m.to, view)} ${Math.round(m.progress * 100)}%]`)
      .join('')}, ${view.moves.waiting} waiting, ${view.shards.underReplicated} shard(s) under-replicated`
    if (line !== last) options.progress(`${line}\n`)
    last = line
    if (Date.now() >= deadline) throw new Error(`${what}: still under way after the wait limit`)
    await sleep(options.intervalMs ?? 1000)
  }
}

const balanced = (view: AdminView) =>
  view.moves.inFlight.length === 0 &&
  view.moves.waiting === 0 &&
  view.plan.length === 0 &&
  view.shards.underReplicated === 0

/**
 * `shoal cluster status | rebalance [--dry-run] | drain NODE | replace OLD NEW | replicate INDEX
 * --replication-factor N`: the operator
 * commands over a node's HTTP API; the long ones print progress until done (`--no-wait` returns
 * once the cluster accepted the operation).
 */
export async function clusterCommand(
  client: NodeClient,
  args: {
    sub: string | undefined
    positionals: readonly string[]
    dryRun: boolean
    wait: boolean
    replicationFactor?: number
  },
  options: ClusterCommandOptions,
): Promise<number> {
  const waiting = { ...options, waitMs: args.wait ? options.waitMs : 0 }
  switch (args.sub) {
    case 'status': {
      options.out(describeCluster(await client.request<AdminView>('GET', '/_admin/cluster')))
      return 0
    }
    case 'rebalance': {
      const plan = await client.request<{ moves: Move[]; waiting: number; inFlight: number }>(
        'POST',
        '/admin/shards/rebalance',
        { dryRun: args.dryRun },
      )
      options.out(
        `${args.dryRun ? 'plan' : 'rebalancing'}: ${plan.moves.length} move(s) now, ${plan.waiting} waiting, ${plan.inFlight} in flight\n`,
      )
      for (const m of plan.moves)
        options.out(`  ${m.index}/${m.shard}: ${m.from ?? '-'} -> ${m.to ?? '-'} (${m.reason})\n`)
      if (args.dryRun || !args.wait) return 0
      await waitUntil(client, waiting, 'rebalance', balanced)
      options.out('balanced\n')
      return 0
    }
    case 'drain': {
      const node = args.positionals[0]
      if (node === undefined) throw new ConfigError('cluster drain needs a node id or name')
      const answer = await client.request<{ node: string; name: string }>('POST', '/admin/cluster/remove', {
        node,
      })
      options.out(`draining ${answer.name} (${answer.node})\n`)
      if (!args.wait) return 0
      await waitUntil(client, waiting, `drain ${answer.name}`, (view) => {
        const record = view.nodes.find((n) => n.id === answer.node)
        return record === undefined || (record.state === 'left' && record.replicas === 0)
      })
      options.out(`${answer.name} has no replicas left and has left the cluster\n`)
      return 0
    }
    case 'replace': {
      const [old, replacement] = args.positionals
      if (old === undefined || replacement === undefined)
        throw new ConfigError('cluster replace needs the old and the new node (ids or names)')
      const answer = await client.request<{ old: string; new: string }>('POST', '/admin/cluster/replace', {
        old,
        new: replacement,
      })
      options.out(`replacing ${old} with ${replacement}\n`)
      if (!args.wait) return 0
      await waitUntil(
        client,
        waiting,
        `replace ${old}`,
        (view) => (view.nodes.find((n) => n.id === answer.old)?.replicas ?? 0) === 0 && balanced(view),
      )
      options.out(`${replacement} holds the replicas ${old} held\n`)
      return 0
    }
    case 'replicate': {
      const index = args.positionals[0]
      if (index === undefined || args.replicationFactor === undefined)
        throw new ConfigError('cluster replicate needs an index uid and --replication-factor N')
      const answer = await client.request<{ replicationFactor: number; previous: number }>(
        'POST',
        `/admin/indexes/${encodeURIComponent(index)}/replication`,
        { replicationFactor: args.replicationFactor },
      )
      options.out(`${index}: replication factor ${answer.previous} -> ${answer.replicationFactor}\n`)
      if (!args.wait) return 0
      await waitUntil(client, waiting, `replicate ${index}`, balanced)
      options.out(`every shard of ${index} has ${answer.replicationFactor} replica(s)\n`)
      return 0
    }
    default:
      throw new ConfigError(
        `unknown cluster command \`${args.sub ?? ''}\`: expected init, status, rebalance, drain, replace or replicate`,
      )
  }
}

import type { AdminClusterAnswer, DiagnosisAnswer, HealthAnswer, NodeStats, NodesAnswer } from './answers.ts'
import { ApiFailure, call } from './api.ts'
import { lineChart } from './chart.ts'
import { healthPanel, nodesPanel, shardMapPanel } from './cluster-panels.ts'
import { fill, h } from './dom.ts'
import { poll } from './poller.ts'
import type { CounterSample } from './rates.ts'
import { largestLag, leadersPerNode, type ShardsAnswer, shardMap } from './shard-map.ts'
import { CHART_POINTS, type Telemetry } from './telemetry.ts'

/** How often the overview refreshes. */
export const POLL_INTERVAL_MS = 2000

export interface ViewContext {
  readonly telemetry: Telemetry
  /** Called when the node refuses the key (it was revoked, or the master key changed). */
  readonly onKeyRefused: (failure: ApiFailure) => void
}

async function settle<T>(promise: Promise<T>): Promise<T | Error> {
  try {
    return await promise
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error))
  }
}

function refused(...answers: unknown[]): ApiFailure | undefined {
  return answers.find((a): a is ApiFailure => a instanceof ApiFailure && a.refusedKey)
}

function sampleOf(stats: NodeStats): CounterSample {
  return {
    atMs: stats.atMs,
    startedAtMs: stats.startedAtMs,
    searches: stats.requests.searches,
    writes: stats.requests.writes,
  }
}

function formatBytes(bytes: number): string {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(1)} GiB`
  return `${Math.round(bytes / (1 << 20))} MiB`
}

function formatUptime(seconds: number): string {
  if (seconds < 120) return `${seconds} s`
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`
  return `${Math.round(seconds / 3600)} h`
}

function nodePanel(stats: NodeStats): HTMLElement {
  const rows: [string, string][] = [
    ['Mode', stats.mode],
    ['Node', stats.nodeName ?? stats.nodeId ?? '—'],
    ['Version', stats.version],
    ['Uptime', formatUptime(stats.uptimeSeconds)],
    ['Tasks queued or running', String(stats.tasks.queueDepth)],
    ['Memory (RSS)', formatBytes(stats.process.rssBytes)],
    ['Load (1 min)', `${stats.process.loadAverage1m.toFixed(2)} on ${stats.process.cpus} CPUs`],
  ]
  return h(
    'section',
    { id: 'this-node', class: 'panel' },
    h('h2', null, 'This node'),
    h('dl', null, ...rows.flatMap(([term, value]) => [h('dt', null, term), h('dd', null, value)])),
  )
}

function chartsPanel(telemetry: Telemetry, clustered: boolean): HTMLElement {
  return h(
    'section',
    { id: 'charts', class: 'panel charts' },
    h('h2', null, 'Activity (this node, last 2 minutes)'),
    lineChart('Requests', '/s', CHART_POINTS, [
      { name: 'searches', className: 'series-search', values: telemetry.searchRates() },
      { name: 'writes', className: 'series-write', values: telemetry.writeRates() },
    ]),
    clustered
      ? lineChart('Largest replication lag', 'entries', CHART_POINTS, [
          { name: 'lag', className: 'series-lag', values: [...telemetry.lags.points()] },
        ])
      : null,
  )
}

function standaloneHealth(): HTMLElement {
  return h(
    'section',
    { id: 'health', class: 'panel health health-green', 'data-status': 'green' },
    h('h2', null, 'Health: ', h('span', { class: 'health-word' }, 'AVAILABLE')),
    h('p', null, 'A standalone node: no cluster, no shards or replicas to watch.'),
  )
}

/** The overview: health, this node, charts and, in a cluster, nodes, shard map and moves. */
export function mountOverview(target: HTMLElement, context: ViewContext): () => void {
  const status = h('p', { id: 'poll-status', class: 'poll-status' }, 'Loading…')
  const body = h('div', { class: 'overview' })
  fill(target, body, status)
  return poll(POLL_INTERVAL_MS, async () => {
    const stats = await settle(call<NodeStats>('GET', '/_node/stats'))
    if (stats instanceof Error) {
      const failure = refused(stats)
      if (failure !== undefined) return context.onKeyRefused(failure)
      fill(status, h('span', { class: 'error' }, `Update failed: ${stats.message}`))
      return
    }
    const clustered = stats.mode === 'cluster'
    if (!clustered) {
      context.telemetry.record(sampleOf(stats), null)
      fill(body, standaloneHealth(), nodePanel(stats), chartsPanel(context.telemetry, false))
    } else {
      const [health, nodes, shards, admin, diagnosis] = await Promise.all([
        settle(call<HealthAnswer>('GET', '/_cluster/health')),
        settle(call<NodesAnswer>('GET', '/_cluster/nodes')),
        settle(call<ShardsAnswer>('GET', '/cluster/shards')),
        settle(call<AdminClusterAnswer>('GET', '/_admin/cluster')),
        settle(call<DiagnosisAnswer>('GET', '/_cluster/diagnosis')),
      ])
      const failure = refused(health, nodes, shards, admin, diagnosis)
      if (failure !== undefined) return context.onKeyRefused(failure)
      const moves = admin instanceof Error ? [] : admin.moves.inFlight
      const rows = shards instanceof Error ? [] : shardMap(shards, moves)
      context.telemetry.record(sampleOf(stats), shards instanceof Error ? null : largestLag(rows))
      fill(
        body,
        healthPanel(health, diagnosis),
        nodePanel(stats),
        chartsPanel(context.telemetry, true),
        nodes instanceof Error
          ? h('section', { id: 'nodes', class: 'panel' }, h('p', { class: 'error' }, nodes.message))
          : nodesPanel(nodes.nodes, leadersPerNode(rows)),
        shards instanceof Error
          ? h('section', { id: 'shard-map', class: 'panel' }, h('p', { class: 'error' }, shards.message))
          : shardMapPanel(rows),
        admin instanceof Error
          ? null
          : h(
              'p',
              { id: 'moves-summary' },
              `${admin.moves.inFlight.length} moves in flight, ${admin.moves.waiting} waiting, ${admin.plan.length} planned`,
            ),
      )
    }
    fill(status, `Updated ${new Date().toLocaleTimeString()} · polling every ${POLL_INTERVAL_MS / 1000} s`)
  })
}

import type { DiagnosisAnswer, HealthAnswer, NodeAnswer } from './answers.ts'
import { h, orDash } from './dom.ts'
import type { IndexRow, ShardCell } from './shard-map.ts'

/** The health banner: the colour, what it counts, and every reason it is not green. */
export function healthPanel(
  health: HealthAnswer | Error,
  diagnosis: DiagnosisAnswer | Error | null,
): HTMLElement {
  if (health instanceof Error)
    return h(
      'section',
      { id: 'health', class: 'panel health health-unknown', 'data-status': 'unknown' },
      h('h2', null, 'Cluster health: unknown'),
      h('p', { class: 'error' }, health.message),
    )
  const reasons = [...health.reasons]
  const shardProblems =
    diagnosis === null || diagnosis instanceof Error
      ? []
      : diagnosis.shards.map((d) =>
          h(
            'li',
            { class: `diagnosis diagnosis-${d.status}`, 'data-shard': `${d.index}/${d.shard}` },
            h('strong', null, `${d.index} shard ${d.shard} (${d.status})`),
            h('ul', null, ...d.problems.map((p) => h('li', null, p))),
          ),
        )
  return h(
    'section',
    { id: 'health', class: `panel health health-${health.status}`, 'data-status': health.status },
    h('h2', null, 'Cluster health: ', h('span', { class: 'health-word' }, health.status.toUpperCase())),
    h(
      'p',
      null,
      `${health.number_of_nodes} live nodes · ${health.active_shards} active replicas · ` +
        `${health.unassigned_shards} unassigned · ${health.initializing_shards} initializing · ` +
        `${health.relocating_shards} relocating`,
    ),
    reasons.length === 0 && shardProblems.length === 0
      ? h('p', { class: 'reasons-none' }, 'Every shard has all its replicas live.')
      : h('ul', { class: 'reasons' }, ...reasons.map((r) => h('li', null, r)), ...shardProblems),
    diagnosis instanceof Error ? h('p', { class: 'error' }, `Diagnosis: ${diagnosis.message}`) : null,
  )
}

/** The nodes table: state, liveness, placement labels, load and version. */
export function nodesPanel(nodes: readonly NodeAnswer[], leaders: ReadonlyMap<string, number>): HTMLElement {
  const rows = [...nodes]
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
    .map((n) =>
      h(
        'tr',
        { 'data-node': n.name, 'data-alive': String(n.alive), class: n.alive ? 'node-live' : 'node-down' },
        h('td', null, h('strong', null, n.name), h('br', null), h('small', null, n.id)),
        h('td', null, n.state),
        h('td', { class: 'node-liveness' }, n.alive ? 'live' : 'unreachable'),
        h('td', null, orDash(n.region)),
        h('td', null, orDash(n.zone)),
        h('td', null, orDash((n.capabilities ?? []).join(', '))),
        h('td', null, `${n.shards} replicas, ${leaders.get(n.id) ?? 0} leading`),
        h('td', null, orDash(n.version)),
        h('td', null, orDash([...n.roles, ...(n.metadata_leader ? ['metadata_leader'] : [])].join(', '))),
      ),
    )
  return h(
    'section',
    { id: 'nodes', class: 'panel' },
    h('h2', null, `Nodes (${nodes.length})`),
    h(
      'table',
      null,
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          ...['Node', 'State', 'Gossip', 'Region', 'Zone', 'Capabilities', 'Load', 'Version', 'Roles'].map(
            (title) => h('th', null, title),
          ),
        ),
      ),
      h('tbody', null, ...rows),
    ),
  )
}

function cellView(cell: ShardCell): HTMLElement {
  return h(
    'td',
    { class: `shard-cell cell-${cell.status}`, 'data-shard': String(cell.shard) },
    h('div', { class: 'cell-count' }, `${cell.liveReplicas}/${cell.wantedReplicas} live`),
    h(
      'ul',
      { class: 'replicas' },
      ...cell.replicas.map((r) =>
        h(
          'li',
          {
            class: [
              'replica',
              r.leader ? 'replica-leader' : '',
              r.reachable ? '' : 'replica-unreachable',
              `replica-${r.state}`,
            ]
              .filter((c) => c !== '')
              .join(' '),
            title: `${r.role}, ${r.state}${r.reachable ? '' : ', unreachable'}`,
          },
          `${r.nodeName ?? r.node}${r.leader ? ' ★' : ''}`,
          r.lag !== null && r.lag > 0 ? h('span', { class: 'lag' }, ` lag ${r.lag}`) : null,
          r.state !== 'active' ? h('span', { class: 'replica-state' }, ` ${r.state}`) : null,
        ),
      ),
    ),
    ...cell.moves.map((m) =>
      h(
        'div',
        { class: 'move' },
        `${m.from ?? '·'} → ${m.to ?? '·'} `,
        h('progress', { max: 1, value: m.progress }),
        ` ${Math.round(m.progress * 100)}%`,
      ),
    ),
  )
}

/** The shard map: one row per index, one column per shard; ★ marks the leader. */
export function shardMapPanel(rows: readonly IndexRow[]): HTMLElement {
  const columns = Math.max(0, ...rows.map((r) => r.shardCount))
  return h(
    'section',
    { id: 'shard-map', class: 'panel' },
    h('h2', null, 'Shard map'),
    rows.length === 0
      ? h('p', null, 'No indexes yet.')
      : h(
          'table',
          { class: 'shard-grid' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              h('th', null, 'Index'),
              ...Array.from({ length: columns }, (_, i) => h('th', null, `shard ${i}`)),
            ),
          ),
          h(
            'tbody',
            null,
            ...rows.map((row) =>
              h(
                'tr',
                { 'data-index': row.indexUid },
                h(
                  'th',
                  null,
                  h('a', { href: `#/indexes/${encodeURIComponent(row.indexUid)}` }, row.indexUid),
                  h('br', null),
                  h('small', null, `${row.shardCount} shards × ${row.replicationFactor} replicas`),
                ),
                ...row.cells.map(cellView),
              ),
            ),
          ),
        ),
    h('p', { class: 'legend' }, '★ leader · lag: log entries still to apply · a bar: a move in flight'),
  )
}

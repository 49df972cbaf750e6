import { ApiFailure, call } from './api.ts'
import { fill, h, orDash } from './dom.ts'
import type { ViewContext } from './overview.ts'
import { poll } from './poller.ts'
import { mountSearch } from './search-panel.ts'

interface IndexSummary {
  readonly uid: string
  readonly primaryKey: string | null
  readonly createdAt: string
}

interface TaskAnswer {
  readonly uid: number
  readonly batchUid: number | null
  readonly type: string
  readonly status: string
  readonly enqueuedAt: string
  readonly duration: string | null
  readonly details: Record<string, unknown> | null
  readonly error: { readonly message: string } | null
}

interface BatchAnswer {
  readonly progress: { readonly percentage: number } | null
}

/** The list of indexes, each a link to its view. */
export function mountIndexList(target: HTMLElement, context: ViewContext): () => void {
  return poll(5000, async () => {
    try {
      const [indexes, stats] = await Promise.all([
        call<{ results: IndexSummary[] }>('GET', '/indexes?limit=1000'),
        call<{ indexes: Record<string, { numberOfDocuments: number }> }>('GET', '/stats'),
      ])
      fill(
        target,
        h(
          'section',
          { id: 'index-list', class: 'panel' },
          h('h2', null, `Indexes (${indexes.results.length})`),
          h(
            'table',
            null,
            h(
              'thead',
              null,
              h('tr', null, h('th', null, 'Index'), h('th', null, 'Primary key'), h('th', null, 'Documents')),
            ),
            h(
              'tbody',
              null,
              ...indexes.results.map((index) =>
                h(
                  'tr',
                  null,
                  h('td', null, h('a', { href: `#/indexes/${encodeURIComponent(index.uid)}` }, index.uid)),
                  h('td', null, orDash(index.primaryKey)),
                  h('td', null, orDash(stats.indexes[index.uid]?.numberOfDocuments)),
                ),
              ),
            ),
          ),
        ),
      )
    } catch (error) {
      if (error instanceof ApiFailure && error.refusedKey) return context.onKeyRefused(error)
      fill(target, h('p', { class: 'error' }, (error as Error).message))
    }
  })
}

/** A task's progress: documents indexed of received, or its batch's percentage while it runs. */
async function taskProgress(task: TaskAnswer): Promise<string> {
  const received = task.details?.receivedDocuments
  const indexed = task.details?.indexedDocuments
  if (task.status === 'processing' && task.batchUid !== null) {
    try {
      const batch = await call<BatchAnswer>('GET', `/batches/${task.batchUid}`)
      if (batch.progress !== null) return `${Math.round(batch.progress.percentage)}%`
    } catch {
      // No batch view on this node (a cluster's tasks run on the metadata leader): fall through.
    }
  }
  if (typeof received === 'number')
    return `${typeof indexed === 'number' ? indexed : 0} of ${received} documents`
  return task.status === 'succeeded' ? 'done' : task.status === 'processing' ? 'running' : '—'
}

async function tasksPanel(uid: string): Promise<HTMLElement> {
  const tasks = await call<{ results: TaskAnswer[] }>(
    'GET',
    `/tasks?indexUids=${encodeURIComponent(uid)}&limit=10`,
  )
  const progress = await Promise.all(tasks.results.map(taskProgress))
  return h(
    'section',
    { id: 'index-tasks', class: 'panel' },
    h('h2', null, 'Latest tasks'),
    h(
      'table',
      null,
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          ...['Task', 'Type', 'Status', 'Progress', 'Enqueued', 'Duration'].map((t) => h('th', null, t)),
        ),
      ),
      h(
        'tbody',
        null,
        ...tasks.results.map((task, i) =>
          h(
            'tr',
            { class: `task-${task.status}` },
            h('td', null, String(task.uid)),
            h('td', null, task.type),
            h(
              'td',
              null,
              task.status,
              task.error === null ? null : h('div', { class: 'error' }, task.error.message),
            ),
            h('td', null, progress[i] ?? '—'),
            h('td', null, new Date(task.enqueuedAt).toLocaleTimeString()),
            h('td', null, orDash(task.duration)),
          ),
        ),
      ),
    ),
  )
}

/** One index: stats, settings and tasks (refreshed by polling) and a search box. */
export function mountIndexView(target: HTMLElement, uid: string, context: ViewContext): () => void {
  const live = h('div', { class: 'index-live' }, 'Loading…')
  const search = h('div', { class: 'index-search' })
  fill(target, h('h2', { class: 'view-title' }, `Index ${uid}`), search, live)
  let facets: string[] | null = null
  const stopSearch = mountSearch(search, uid, () => facets ?? [])
  const stopPolling = poll(2000, async () => {
    try {
      const path = `/indexes/${encodeURIComponent(uid)}`
      const [stats, settings, tasks] = await Promise.all([
        call<{ numberOfDocuments: number; isIndexing: boolean; fieldDistribution: Record<string, number> }>(
          'GET',
          `${path}/stats`,
        ),
        call<Record<string, unknown>>('GET', `${path}/settings`),
        tasksPanel(uid),
      ])
      const filterable = settings.filterableAttributes
      facets = Array.isArray(filterable) ? filterable.filter((f): f is string => typeof f === 'string') : []
      fill(
        live,
        h(
          'section',
          { id: 'index-stats', class: 'panel' },
          h('h2', null, 'Stats'),
          h(
            'dl',
            null,
            h('dt', null, 'Documents'),
            h('dd', { 'data-stat': 'documents' }, String(stats.numberOfDocuments)),
            h('dt', null, 'Indexing'),
            h('dd', null, stats.isIndexing ? 'yes' : 'no'),
            ...Object.entries(stats.fieldDistribution).flatMap(([field, count]) => [
              h('dt', null, `field ${field}`),
              h('dd', null, String(count)),
            ]),
          ),
        ),
        tasks,
        h(
          'section',
          { id: 'index-settings', class: 'panel' },
          h('h2', null, 'Settings'),
          h('pre', null, JSON.stringify(settings, null, 2)),
        ),
      )
    } catch (error) {
      if (error instanceof ApiFailure && error.refusedKey) return context.onKeyRefused(error)
      fill(live, h('p', { class: 'error' }, (error as Error).message))
    }
  })
  return () => {
    stopPolling()
    stopSearch()
  }
}

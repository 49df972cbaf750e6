import { ApiFailure, call } from './api.ts'
import { fill, h } from './dom.ts'

interface SearchAnswer {
  readonly hits: readonly Record<string, unknown>[]
  readonly estimatedTotalHits?: number
  readonly totalHits?: number
  readonly processingTimeMs: number
  readonly facetDistribution?: Record<string, Record<string, number>>
}

/** A document in one line: its first fields, each value cut short. */
function hitLine(hit: Record<string, unknown>): string {
  return Object.entries(hit)
    .filter(([field]) => !field.startsWith('_'))
    .slice(0, 5)
    .map(([field, value]) => {
      const text = typeof value === 'string' ? value : JSON.stringify(value)
      return `${field}: ${text.length > 80 ? `${text.slice(0, 79)}…` : text}`
    })
    .join(' · ')
}

function resultsView(answer: SearchAnswer, roundTripMs: number): HTMLElement {
  const total = answer.totalHits ?? answer.estimatedTotalHits ?? answer.hits.length
  const facets = Object.entries(answer.facetDistribution ?? {})
  return h(
    'div',
    { id: 'search-results' },
    h(
      'p',
      { class: 'search-timing' },
      `${total} hits · ${answer.processingTimeMs} ms on the node · ${Math.round(roundTripMs)} ms round trip`,
    ),
    h('ol', { class: 'hits' }, ...answer.hits.map((hit) => h('li', { class: 'hit' }, hitLine(hit)))),
    facets.length === 0
      ? null
      : h(
          'div',
          { class: 'facets' },
          ...facets.map(([facet, values]) =>
            h(
              'div',
              { class: 'facet', 'data-facet': facet },
              h('h3', null, facet),
              h(
                'ul',
                null,
                ...Object.entries(values)
                  .sort((a, b) => b[1] - a[1])
                  .slice(0, 10)
                  .map(([value, count]) => h('li', null, `${value} (${count})`)),
              ),
            ),
          ),
        ),
  )
}

/**
 * The search box of an index: hits, facet counts over its filterable attributes, and the time
 * the node reports next to the round trip the browser saw.
 */
export function mountSearch(target: HTMLElement, uid: string, facets: () => string[]): () => void {
  const input = h('input', {
    type: 'search',
    name: 'q',
    placeholder: 'Search this index',
    autocomplete: 'off',
  })
  const results = h('div', { class: 'search-output' })
  let current: AbortController | null = null
  const form = h(
    'form',
    {
      id: 'search-form',
      class: 'search-form',
      onsubmit: (event: Event) => {
        event.preventDefault()
        void run()
      },
    },
    input,
    h('button', { type: 'submit' }, 'Search'),
  )
  async function run() {
    current?.abort()
    const mine = new AbortController()
    current = mine
    const started = performance.now()
    const wanted = facets()
    try {
      const answer = await call<SearchAnswer>('POST', `/indexes/${encodeURIComponent(uid)}/search`, {
        q: input.value,
        limit: 20,
        ...(wanted.length > 0 ? { facets: wanted } : {}),
      })
      if (mine.signal.aborted) return
      fill(results, resultsView(answer, performance.now() - started))
    } catch (error) {
      if (mine.signal.aborted) return
      const message = error instanceof ApiFailure ? `${error.code}: ${error.message}` : String(error)
      fill(results, h('p', { class: 'error' }, message))
    }
  }
  fill(target, h('section', { id: 'search', class: 'panel' }, h('h2', null, 'Search'), form, results))
  return () => current?.abort()
}

/**
 * The search parameters that shape the answer's extras rather than its hits: `locales` (checked
 * against the languages the analyser handles; it changes nothing else, as `localizedAttributes`),
 * `showRankingScoreDetails` (ranking-details.ts) and `showPerformanceDetails` (the time of each
 * phase of the search, `PhaseTimer`).
 */

import { InvalidSearchError } from '../errors.ts'
import { localeProblem } from './settings-tokens.ts'

export interface SearchExtras {
  /** The locales asked for, each one the analyser handles; undefined when not given. */
  locales: string[] | undefined
  showRankingScoreDetails: boolean
  showPerformanceDetails: boolean
}

export function checkExtras(p: Record<string, unknown>): SearchExtras {
  return {
    locales: checkLocales(p.locales),
    showRankingScoreDetails: flag(p.showRankingScoreDetails, 'showRankingScoreDetails'),
    showPerformanceDetails: flag(p.showPerformanceDetails, 'showPerformanceDetails'),
  }
}

function flag(value: unknown, name: string): boolean {
  if (value === undefined || value === null) return false
  if (typeof value !== 'boolean')
    throw new InvalidSearchError(name, `Invalid value type at \`.${name}\`: expected a boolean.`)
  return value
}

/**
 * Meilisearch's `locales`: the languages of the query. Shoal analyses a query as the index's one
 * analyser does (settings-tokens.ts), which treats the locales it accepts as they need; the others
 * are refused rather than accepted and ignored.
 */
function checkLocales(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
    throw new InvalidSearchError(
      'locales',
      'Invalid value type at `.locales`: expected an array of locale codes.',
    )
  for (const locale of value as string[]) {
    const problem = localeProblem(locale)
    if (problem !== undefined)
      throw new InvalidSearchError('locales', `Invalid value in \`.locales\`: ${problem}.`)
  }
  return [...(value as string[])]
}

/**
 * Times the phases of one search for `performanceDetails`: `phase(name)` closes the running phase
 * and opens `name`; `details()` closes the last and returns Meilisearch's shape, each phase as
 * `search > <name>` beside the whole `search`, durations as text (`12.34µs`, `1.50ms`). Time comes
 * from `performance.now()`, the clock the search's own timing uses.
 */
export class PhaseTimer {
  readonly #started = performance.now()
  readonly #phases: Array<[name: string, ms: number]> = []
  #current: { name: string; at: number } | undefined

  phase(name: string): void {
    const now = performance.now()
    if (this.#current !== undefined) this.#phases.push([this.#current.name, now - this.#current.at])
    this.#current = { name, at: now }
  }

  details(): Record<string, string> {
    const now = performance.now()
    if (this.#current !== undefined) this.#phases.push([this.#current.name, now - this.#current.at])
    this.#current = undefined
    const out: Record<string, string> = { search: duration(now - this.#started) }
    for (const [name, ms] of this.#phases) out[`search > ${name}`] = duration(ms)
    return out
  }
}

function duration(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(2)}µs` : `${ms.toFixed(2)}ms`
}

import { HnswConfigError } from './errors.ts'

/** How distance is measured. Smaller is closer for all three. */
export type Metric = 'cosine' | 'l2' | 'dot'

/** Options of `HnswIndex.create`. */
export interface HnswOptions {
  /** Length of every vector, 1 to 65,536. */
  dimensions: number
  /**
   * `l2`: squared Euclidean distance. `dot`: 1 − a·b (vectors used as given).
   * `cosine`: 1 − cos(a, b); vectors are stored normalised to unit length.
   */
  metric: Metric
  /** Links per node on levels ≥ 1; level 0 keeps 2·M. @defaultValue 16 */
  M?: number
  /** Candidate list size while inserting. @defaultValue 200 */
  efConstruction?: number
  /** Candidate list size while searching, unless a search passes its own. @defaultValue 64 */
  efSearch?: number
  /** Seed of the level generator; equal seeds and insertion orders give equal graphs. @defaultValue 42 */
  seed?: number
  /**
   * Share of tombstoned nodes (deleted / all nodes) at which `remove`
   * compacts the graph by itself; 1 leaves compaction to the caller.
   * @defaultValue 0.5
   */
  compactionThreshold?: number
}

export interface ResolvedHnswOptions {
  readonly dimensions: number
  readonly metric: Metric
  readonly M: number
  readonly efConstruction: number
  readonly efSearch: number
  readonly seed: number
  readonly compactionThreshold: number
}

export const DEFAULT_OPTIONS = Object.freeze({
  M: 16,
  efConstruction: 200,
  efSearch: 64,
  seed: 42,
  compactionThreshold: 0.5,
})

/** Upper bound of efSearch and efConstruction. */
export const MAX_EF = 65_536

function integerIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new HnswConfigError(`${name} must be an integer in [${min}, ${max}], got ${value}`)
  }
  return value
}

function ratioIn(name: string, value: number): number {
  if (typeof value !== 'number' || !(value > 0 && value <= 1)) {
    throw new HnswConfigError(`${name} must be a number in (0, 1], got ${value}`)
  }
  return value
}

/** Fills defaults and validates; throws `HnswConfigError`. */
export function resolveOptions(options: HnswOptions): ResolvedHnswOptions {
  if (typeof options !== 'object' || options === null) throw new HnswConfigError('options must be an object')
  if (options.metric !== 'cosine' && options.metric !== 'l2' && options.metric !== 'dot') {
    throw new HnswConfigError(`metric must be 'cosine', 'l2' or 'dot', got ${String(options.metric)}`)
  }
  return Object.freeze({
    dimensions: integerIn('dimensions', options.dimensions, 1, 65_536),
    metric: options.metric,
    M: integerIn('M', options.M ?? DEFAULT_OPTIONS.M, 2, 256),
    efConstruction: integerIn(
      'efConstruction',
      options.efConstruction ?? DEFAULT_OPTIONS.efConstruction,
      1,
      MAX_EF,
    ),
    efSearch: integerIn('efSearch', options.efSearch ?? DEFAULT_OPTIONS.efSearch, 1, MAX_EF),
    seed: integerIn('seed', options.seed ?? DEFAULT_OPTIONS.seed, 0, Number.MAX_SAFE_INTEGER),
    compactionThreshold: ratioIn(
      'compactionThreshold',
      options.compactionThreshold ?? DEFAULT_OPTIONS.compactionThreshold,
    ),
  })
}

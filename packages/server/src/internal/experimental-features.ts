import { badRequest } from './errors.ts'
import { isPlainObject } from './request-body.ts'

/**
 * `/experimental-features`: the runtime flags of a current Meilisearch, with
 * what Shoal actually has. Shoal's feature set is fixed (nothing is toggled at
 * run time), so a PATCH may only restate a flag's value; asking to switch one
 * is refused by name rather than accepted and ignored.
 */

/** Each flag Meilisearch knows, and whether Shoal serves that feature (always, or never). */
export const EXPERIMENTAL_FEATURES: Readonly<Record<string, { enabled: boolean; why: string }>> = {
  metrics: { enabled: true, why: 'Shoal always serves `GET /metrics` (Prometheus text)' },
  logsRoute: { enabled: false, why: 'Shoal has no `/logs` routes; it logs JSON lines to stderr' },
  editDocumentsByFunction: { enabled: false, why: 'Shoal cannot edit documents by a function' },
  containsFilter: { enabled: false, why: 'Shoal filters have no `CONTAINS` or `STARTS WITH` operator' },
  network: {
    enabled: false,
    why: 'Shoal has no `/network` routes; clusters are formed with `shoal start --join`',
  },
  getTaskDocumentsRoute: { enabled: false, why: 'Shoal has no `GET /tasks/{taskUid}/documents` route' },
  compositeEmbedders: { enabled: false, why: 'Shoal embedders are `userProvided` only' },
  chatCompletions: { enabled: false, why: 'Shoal has no chat routes' },
  multimodal: { enabled: false, why: 'Shoal embedders are `userProvided` only' },
  vectorStoreSetting: { enabled: false, why: 'Shoal has one vector store (its HNSW graphs)' },
  renderRoute: { enabled: false, why: 'Shoal has no render route' },
  dynamicSearchRules: { enabled: false, why: 'Shoal has no dynamic search rules' },
  foreignKeys: { enabled: false, why: 'Shoal has no foreign keys' },
}

export function experimentalFeatures(): Record<string, boolean> {
  return Object.fromEntries(Object.entries(EXPERIMENTAL_FEATURES).map(([name, f]) => [name, f.enabled]))
}

/** Checks a PATCH body: each flag named must be a boolean (or null) equal to what Shoal has. */
export function checkFeaturePatch(input: unknown): Record<string, boolean> {
  if (!isPlainObject(input)) throw badRequest('bad_request', 'Expected a JSON object of feature flags')
  for (const [name, value] of Object.entries(input)) {
    const feature = EXPERIMENTAL_FEATURES[name]
    if (feature === undefined) {
      throw badRequest(
        'bad_request',
        `Unknown field \`${name}\`: expected one of ${Object.keys(EXPERIMENTAL_FEATURES)
          .map((n) => `\`${n}\``)
          .join(', ')}`,
      )
    }
    if (value !== null && typeof value !== 'boolean') {
      throw badRequest('bad_request', `Invalid value type at \`.${name}\`: expected a boolean`)
    }
    if (value !== null && value !== feature.enabled) {
      throw badRequest(
        'bad_request',
        `\`${name}\` cannot be ${value ? 'enabled' : 'disabled'} on Shoal: ${feature.why}.`,
      )
    }
  }
  return experimentalFeatures()
}

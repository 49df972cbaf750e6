import { badRequest } from './errors.ts'
import { EXPERIMENTAL_FEATURES } from './experimental-features.ts'
import type { RouteSpec } from './route-spec.ts'

/**
 * Meilisearch routes behind an experimental feature Shoal does not have: each answers 400
 * `feature_not_enabled`, naming the feature and why Shoal lacks it (as Meilisearch answers while
 * the feature is off), rather than a bare `not_found`. `PATCH /experimental-features` refuses to
 * switch these features on.
 */
function gated(
  method: RouteSpec['method'],
  url: string,
  action: RouteSpec['action'],
  feature: string,
): RouteSpec {
  const why = EXPERIMENTAL_FEATURES[feature]!.why
  return {
    method,
    url,
    action,
    tag: 'Experimental',
    summary: `Refused: needs the \`${feature}\` experimental feature, which Shoal does not have (400 \`feature_not_enabled\`)`,
    handler() {
      throw badRequest(
        'feature_not_enabled',
        `\`${method} ${url.replace(/:([A-Za-z]+)/g, '{$1}')}\` needs the \`${feature}\` experimental feature, which Shoal does not have: ${why}.`,
      )
    },
  }
}

/** Registered only to refuse; docs/meilisearch-compatibility.md lists them as refused. */
export const gatedRoutes: RouteSpec[] = [
  gated('POST', '/indexes/:indexUid/documents/edit', 'documents.add', 'editDocumentsByFunction'),
  gated('GET', '/tasks/:taskUid/documents', 'tasks.get', 'getTaskDocumentsRoute'),
  gated('GET', '/network', 'network.get', 'network'),
  gated('PATCH', '/network', 'network.update', 'network'),
]

/** `METHOD /path` of each gated route, in the compatibility page's spelling. */
export const GATED_ROUTES: ReadonlySet<string> = new Set(
  gatedRoutes.map((r) => `${r.method} ${r.url.replace(/:([A-Za-z]+)/g, '{$1}')}`),
)

import { ACTIONS } from './api-keys.ts'
import type { RouteSpec } from './route-spec.ts'
import { GATED_ROUTES } from './routes-gated.ts'
import { ENGINE_PARAMS } from './routes-search.ts'
import { SETTINGS } from './routes-settings.ts'

/**
 * docs/meilisearch-compatibility.md, rendered from what the server actually
 * registers and accepts: a Meilisearch route is "supported" only if the
 * route table has it, a search parameter only if the search parser passes it
 * on, a setting only if it has a sub-route. The hand-written part is the list
 * of what a current Meilisearch (v1.x) offers and the notes on partial
 * support; the verdicts are computed, so the page cannot drift from the code.
 */

/** The routes of a current Meilisearch, with what a client should know where Shoal differs. */
const MEILISEARCH_ROUTES: [method: string, path: string, note?: string][] = [
  ['GET', '/indexes'],
  ['POST', '/indexes'],
  ['GET', '/indexes/{indexUid}'],
  ['PATCH', '/indexes/{indexUid}', '`primaryKey` and/or a new `uid` (a rename; the task history follows)'],
  ['DELETE', '/indexes/{indexUid}'],
  ['POST', '/swap-indexes', 'pairs swap atomically; `rename: true` renames; the task history follows'],
  [
    'GET',
    '/indexes/{indexUid}/documents',
    '`offset`, `limit`, `fields`, `filter`, `ids`, `sort` (sortable attributes), `retrieveVectors`; on an index of a cluster, unsorted pages are in primary key order',
  ],
  [
    'POST',
    '/indexes/{indexUid}/documents',
    '`primaryKey`, `csvDelimiter`, `skipCreation` (only existing documents are written; a missing index is not created), `customMetadata`, `writeConcern` (Shoal: `quorum` or `async`, see sharded-indexes.md)',
  ],
  [
    'PUT',
    '/indexes/{indexUid}/documents',
    '`primaryKey`, `csvDelimiter`, `skipCreation`, `customMetadata`, `writeConcern`',
  ],
  ['DELETE', '/indexes/{indexUid}/documents', '`customMetadata`'],
  [
    'POST',
    '/indexes/{indexUid}/documents/fetch',
    '`ids` and `filter` (together too), `sort` (sortable attributes), `retrieveVectors`; on an index of a cluster, unsorted pages are in primary key order',
  ],
  ['GET', '/indexes/{indexUid}/documents/{documentId}'],
  ['DELETE', '/indexes/{indexUid}/documents/{documentId}', '`customMetadata`'],
  ['POST', '/indexes/{indexUid}/documents/delete-batch', '`customMetadata`'],
  ['POST', '/indexes/{indexUid}/documents/delete', '`customMetadata`'],
  ['POST', '/indexes/{indexUid}/documents/edit'],
  ['POST', '/indexes/{indexUid}/search', 'see the search parameters below'],
  ['GET', '/indexes/{indexUid}/search', 'the POST parameters; `hybridEmbedder`, `hybridSemanticRatio`'],
  [
    'POST',
    '/indexes/{indexUid}/facet-search',
    '`facetName`, `facetQuery` (a folded prefix of the whole value, with the typos `typoTolerance` allows a word of its length; string values), `q`, `filter`, `matchingStrategy`, `attributesToSearchOn`, `vector`, `hybrid`, `rankingScoreThreshold`, `locales` (as in a search), `exhaustiveFacetCount` (counts are always exact); ordered and capped by `faceting`; exact over the shards of an index of a cluster',
  ],
  [
    'POST',
    '/indexes/{indexUid}/similar',
    '`id`, `embedder`, `offset`, `limit`, `filter`, `attributesToRetrieve`, `showRankingScore`, `rankingScoreThreshold`, `retrieveVectors`; the document must have a vector for the embedder (else `invalid_similar_id`); `showRankingScoreDetails` is refused unless `false`; on a sharded index, searched across the shards',
  ],
  ['GET', '/indexes/{indexUid}/similar', 'the POST fields as query parameters, lists comma-separated'],
  [
    'POST',
    '/multi-search',
    "one result list per query, or with `federation` (`offset`, `limit`, `facetsByIndex`, `mergeFacets`) one list: the queries' ordered hits interleaved by `_rankingScore × federationOptions.weight`, each with `_federation`; `facetsByIndex` needs its index searched by exactly one query; `federationOptions.remote` and the federation's `page`, `hitsPerPage`, `distinct` are refused",
  ],
  [
    'POST',
    '/indexes/{indexUid}/fields',
    '`offset`, `limit`, `filter` (patterns and capabilities); each field with `displayed`, `searchable`, `sortable`, `filterable` (facet search while the `facetSearch` setting is on), `distinct` (the `distinctAttribute`), `rankingRule` (a custom `field:asc`/`desc` rule) and the `localizedAttributes` locales matching it',
  ],
  ['GET', '/indexes/{indexUid}/settings', 'the settings Shoal has (see below)'],
  ['PATCH', '/indexes/{indexUid}/settings', 'an unsupported setting is refused (`bad_request`)'],
  ['DELETE', '/indexes/{indexUid}/settings'],
  ['GET', '/indexes/{indexUid}/stats'],
  ['GET', '/stats'],
  ['GET', '/tasks', 'every filter, `limit`, `from`, `reverse`'],
  ['GET', '/tasks/{taskUid}'],
  ['POST', '/tasks/cancel', 'enqueued tasks; a running batch finishes'],
  ['DELETE', '/tasks'],
  ['GET', '/tasks/{taskUid}/documents'],
  [
    'GET',
    '/batches',
    'the task filters (`uids` are batch uids); `progress` counts finished tasks; `progressTrace` is empty',
  ],
  ['GET', '/batches/{batchUid}'],
  ['GET', '/keys'],
  ['POST', '/keys'],
  ['GET', '/keys/{key}'],
  ['PATCH', '/keys/{key}'],
  ['DELETE', '/keys/{key}'],
  ['GET', '/health'],
  ['GET', '/version'],
  [
    'POST',
    '/dumps',
    "Shoal's JSON-lines dump (indexes, settings, documents with vectors; no keys or task history) for `shoal start --import-dump`; not Meilisearch's dump format. On a cluster node: read through the shards (each at one applied index), written on that node, with each index's sharding",
  ],
  [
    'POST',
    '/snapshots',
    'engine image and API keys for `shoal start --import-snapshot`; no task history. On a cluster node: a cluster backup (a `backupCreation` task, as `POST /admin/backups`), restored with `shoal backup restore`',
  ],
  ['GET', '/experimental-features', '`metrics` is on; every other flag is off (Shoal lacks those features)'],
  [
    'PATCH',
    '/experimental-features',
    'a flag may be restated; switching one is refused (`bad_request`) with the reason',
  ],
  ['GET', '/metrics', "Shoal's own Prometheus metrics"],
  ['GET', '/webhooks', '`authorization` header values are redacted'],
  [
    'POST',
    '/webhooks',
    'each finished batch is POSTed as NDJSON, retried 3 times on network errors, 5xx and 429; deliveries are not durable; standalone nodes only',
  ],
  ['GET', '/webhooks/{uuid}'],
  ['PATCH', '/webhooks/{uuid}', 'a header set to `null` is removed'],
  ['DELETE', '/webhooks/{uuid}'],
  ['GET', '/network'],
  ['PATCH', '/network'],
  [
    'POST',
    '/export',
    'a task (`export`): `url`, `apiKey`, `payloadSize` (`50 MiB`, `512 KB`, bytes), `indexes` patterns with `filter` and `overrideSettings`; the task succeeds once the remote tasks it enqueued have (else `export_remote_failed`); on a cluster node read through the shards, each at one applied index',
  ],
]

/** The search parameters Shoal parses itself (the rest go to the engine as they are). */
const SERVER_SEARCH_PARAMS = [
  'q',
  'vector',
  'hybrid',
  'filter',
  'facets',
  'sort',
  'offset',
  'limit',
  'attributesToRetrieve',
  'showRankingScore',
  'showPerformanceDetails',
]

const MEILISEARCH_SEARCH_PARAMS: [name: string, note?: string][] = [
  [
    'q',
    'BM25 over the searchable attributes, prefix on the last word, typos by `typoTolerance`; `"a phrase"` must appear as consecutive words, `-word` and `-"a phrase"` exclude',
  ],
  ['offset'],
  ['limit', 'any value: windows wider than the vector graph are ranked exactly'],
  ['page', 'answers exact `totalHits` and `totalPages`'],
  ['hitsPerPage'],
  ['filter', 'no geo filters; nesting up to 200 levels'],
  [
    'facets',
    '`faceting.maxValuesPerFacet` values per facet (numbers first, or by count); `facetStats` (min, max) for numeric facets',
  ],
  ['distinct', 'the attribute must be filterable; overrides `distinctAttribute`; exact on a sharded index'],
  ['attributesToRetrieve'],
  ['attributesToCrop', '`name:words` overrides `cropLength`'],
  ['cropLength'],
  ['cropMarker'],
  ['attributesToHighlight', 'a prefix match highlights the prefix only'],
  ['highlightPreTag'],
  ['highlightPostTag'],
  ['showMatchesPosition', 'offsets are UTF-16 code units; `indices` for values in arrays'],
  [
    'sort',
    'placed by `rankingRules`: by default sort keys outrank relevance; refused (`invalid_search_sort`) when the rules lack `sort`; no geo sort',
  ],
  [
    'matchingStrategy',
    '`last` (the default, as in Meilisearch), `all`, `frequency`; the same on an index of a cluster (exact across shards)',
  ],
  ['showRankingScore', 'keyword scores are BM25 relative to the best hit of the query'],
  [
    'showRankingScoreDetails',
    "`_rankingScoreDetails`: `words`, `typo`, `proximity`, `attribute`, `exactness` in Meilisearch's shapes (what the hit's text holds of the query; Shoal ranks by one score), the score ranked by (`bm25`, `vectorSort` or `hybrid`, equal to `_rankingScore`) after `exactness`, and each sort key or custom rule with its `value`, in the order of `rankingRules` (see docs/ranking-rules.md); the same on sharded indexes",
  ],
  [
    'showPerformanceDetails',
    '`performanceDetails`: `search` and `search > <phase>` (`parse`, then `partition` and `merge`, or `filter`, `rank`, `sort`, `narrow`, `documents`, `facets`) as `1.25ms`/`12.50µs`; on a sharded index of a cluster `search` (the whole scatter-gather), `shardsSearched`, `shardsPruned` and `searchedShards` instead of the phases; refused in a federated query (`bad_request`)',
  ],
  ['rankingScoreThreshold', 'compared with the `_rankingScore` above'],
  ['attributesToSearchOn', 'hits must hold a query word there; BM25 still scores every searchable attribute'],
  [
    'hybrid',
    '`userProvided` embedders: the query needs `vector`; `rest` embedders: `q` is embedded by the server (cached), a search without `q` is a keyword (placeholder) one; a query the embedder fails on answers `vector_embedding_error`',
  ],
  ['vector'],
  ['retrieveVectors'],
  [
    'locales',
    'the locales `localizedAttributes` accepts (the analyser already treats them as they need, so they change nothing); others `invalid_search_locales`',
  ],
  ['media'],
]

const MEILISEARCH_SETTINGS: [name: string, note?: string][] = [
  [
    'rankingRules',
    "the five relevance rules are one BM25 score: all or none, in Meilisearch's order, ranked at the last of them; `sort` and `attribute:asc`/`desc` rank where listed (see docs/ranking-rules.md); anything else `invalid_settings_ranking_rules`",
  ],
  ['distinctAttribute', 'the default `distinct` of every search, on a sharded index too'],
  ['searchableAttributes', 'the first 7 attributes weigh by their order; the rest share one weight'],
  ['displayedAttributes'],
  [
    'filterableAttributes',
    'names and the object form, mixed: `attributePatterns` with `*` anywhere, `features.facetSearch`, `features.filter.equality`/`comparison` (a disabled operator: `invalid_search_filter`); the first matching entry decides; `facets: ["*"]` counts names and patterns without `*`; on sharded indexes too',
  ],
  ['sortableAttributes'],
  ['stopWords'],
  [
    'synonyms',
    "one-way as stored (list both ways for multi-way); a key of one or more words adds its alternatives' words to the query as exact terms; count for `matchingStrategy` and highlighting",
  ],
  [
    'typoTolerance',
    'every field: `enabled`, `minWordSizeForTypos`, `disableOnWords` (those query words match only as typed, compared as analysed), `disableOnAttributes` (a word found there only through a typo does not match: the hit is dropped unless it holds a query word otherwise; BM25 still weighs the typo variant in its score), `disableOnNumbers` (query words of digits only match as typed); on sharded indexes too',
  ],
  [
    'faceting',
    '`maxValuesPerFacet` and `sortFacetValuesBy` (`alpha`: numbers ascending, then strings; `count`)',
  ],
  [
    'pagination',
    '`maxTotalHits`: caps the hits reachable and the totals (on a sharded index, after the merge)',
  ],
  [
    'dictionary',
    'strings indexed, searched and highlighted as one word, compared case-insensitively; a change re-indexes the documents (see docs/ranking-rules.md)',
  ],
  ['separatorTokens', 'strings that cut words, letters included; a change re-indexes the documents'],
  [
    'nonSeparatorTokens',
    'strings that are part of words (`#` makes `C#` a word); a change re-indexes the documents',
  ],
  [
    'proximityPrecision',
    'Shoal\'s score has no proximity rule: `byWord` (the default) makes a `"phrase"` match consecutive words, `byAttribute` its words anywhere in one attribute',
  ],
  [
    'searchCutoffMs',
    '`null` (the default) has no cutoff; BM25 and exact vector scans stop between slices of (at least) 8,192 candidates once it passes and answer with what they scored; one graph search is not interrupted',
  ],
  [
    'localizedAttributes',
    'accepted for the locales whose text Shoal segments and folds as that language needs (space-separated Latin, Cyrillic, Greek, Armenian, Georgian scripts: `eng`, `fra`, `spa`, `rus`, …); Chinese, Japanese, Korean, Thai and other locales that need their own segmentation or normalisation fail the task (`invalid_settings_localized_attributes`)',
  ],
  ['facetSearch', '`false` refuses the facet-search route (`facet_search_disabled`)'],
  ['prefixSearch', '`indexingTime` (the last query word also matches as a prefix) or `disabled`'],
  [
    'embedders',
    "`userProvided` source: `dimensions`, `distance`; `rest` source (standalone nodes only, a cluster refuses it): `url`, `apiKey` (masked when read), `dimensions` (probed when left out), `distance`, `documentTemplate` (`{{ doc.<path> }}` and Meilisearch's default template only), `documentTemplateMaxBytes`, `request` / `response` (`{{text}}`, `{{embedding}}`, `{{..}}` batches), `headers`; `distribution`, `binaryQuantized`, fragments and the other sources are refused (docs/embedders.md)",
  ],
]

function shoalPath(url: string): string {
  return url.replace(/:([A-Za-z]+)/g, '{$1}')
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|')
}

export function renderCompatibility(routes: RouteSpec[]): string {
  const registered = new Set(routes.map((r) => `${r.method} ${shoalPath(r.url)}`))
  const lines = [
    '# Meilisearch compatibility',
    '',
    '<!-- Generated by `node packages/server/scripts/render-compatibility.ts` (then `pnpm format`) from the route table and the search and settings parsers; do not edit by hand. -->',
    '',
    'What a client of a current Meilisearch (v1.x) finds on a Shoal node. **Supported** means the route or parameter is registered and works as Meilisearch documents it, with the differences noted. **Refused** means Shoal answers a clear error rather than accepting and ignoring it. A route behind a Meilisearch experimental feature Shoal lacks answers `400` with code `feature_not_enabled` and the reason; any other route Shoal does not have answers `404` with code `not_found`.',
    '',
    '## Routes',
    '',
    '| Method | Path | Shoal | Notes |',
    '| --- | --- | --- | --- |',
  ]
  for (const [method, path, note] of MEILISEARCH_ROUTES) {
    const route = `${method} ${path}`
    const verdict = GATED_ROUTES.has(route)
      ? 'refused (`feature_not_enabled`)'
      : registered.has(route)
        ? 'supported'
        : 'not yet'
    lines.push(
      `| \`${method}\` | \`${path}\` | ${verdict} | ${verdict === 'supported' ? cell(note ?? '') : ''} |`,
    )
  }
  const settingsRoutes = SETTINGS.map((s) => s.path)
  lines.push(
    '',
    `Each supported setting also has its sub-route \`/indexes/{indexUid}/settings/{name}\` (\`GET\`, \`PUT\` or \`PATCH\`, \`DELETE\`): ${settingsRoutes.map((p) => `\`${p}\``).join(', ')}.`,
    '',
    '## Search parameters',
    '',
    'For `POST /indexes/{indexUid}/search`, `GET` (as query parameters) and each query of `/multi-search`.',
    '',
    '| Parameter | Shoal | Notes |',
    '| --- | --- | --- |',
  )
  for (const [name, note] of MEILISEARCH_SEARCH_PARAMS) {
    const supported = SERVER_SEARCH_PARAMS.includes(name) || ENGINE_PARAMS.has(name)
    const verdict = supported ? 'supported' : 'refused (`bad_request`, unknown field)'
    lines.push(`| \`${name}\` | ${verdict} | ${supported ? cell(note ?? '') : ''} |`)
  }
  lines.push('', '## Settings', '', '| Setting | Shoal | Notes |', '| --- | --- | --- |')
  for (const [name, note] of MEILISEARCH_SETTINGS) {
    const supported = SETTINGS.some((s) => s.name === name)
    lines.push(
      `| \`${name}\` | ${supported ? 'supported' : 'refused (`bad_request`)'} | ${cell(note ?? '')} |`,
    )
  }
  const shoalOnly = (a: string) => a.startsWith('cluster.') || a.startsWith('backups.')
  const grantable = ACTIONS.filter((a) => !shoalOnly(a))
  const ownActions = ACTIONS.filter((a) => a.startsWith('backups.'))
  lines.push(
    '',
    '## Keys and tenant tokens',
    '',
    `API keys take every action name of a current Meilisearch: ${grantable.map((a) => `\`${a}\``).join(', ')}. An action for a route Shoal does not serve grants nothing more than its name. Shoal adds ${ownActions.map((a) => `\`${a}\``).join(', ')} for its backups (\`POST /admin/backups\` and their download), and \`cluster.get\`/\`cluster.update\`, which only the master key holds.`,
    '',
    "Tenant tokens are supported: JWTs signed (HS256, HS384 or HS512) with an API key, with `apiKeyUid`, `searchRules` (an array of index patterns, or an object of patterns to `{ filter }`, `{}` or `null`; an exact uid overrides a pattern, a longer prefix a shorter one, `*` comes last) and an optional `exp`. A token may only search (`POST`/`GET` search, facet search and `/multi-search`), only the indexes both its rules and its key allow; its rule's filter is ANDed to the request's. Any fault with a token answers `403 invalid_api_key`.",
    '',
  )
  return lines.join('\n')
}

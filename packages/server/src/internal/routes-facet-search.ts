import type { FacetSearchParams } from './engine-port.ts'
import { badRequest } from './errors.ts'
import { takeReadOptions } from './read-options.ts'
import { isPlainObject, readJsonBody } from './request-body.ts'
import { checkIndexUid, type RouteSpec } from './route-spec.ts'
import { engineSearch } from './routes-search.ts'

/**
 * `POST /indexes/{uid}/facet-search`: the facet's own fields go to the engine as given (it
 * answers Meilisearch's `*_facet_search_*` codes); the search fields are checked as a search's
 * and narrowed by a tenant token's rule, like a search. On a cluster node `consistency` and
 * `allowPartialResults` read the shards as a search does.
 */
export const facetSearchRoutes: RouteSpec[] = [
  {
    method: 'POST',
    url: '/indexes/:indexUid/facet-search',
    action: 'search',
    tag: 'Search',
    summary:
      'Values of one filterable attribute (facetName) starting with facetQuery, counted among the documents q, filter, matchingStrategy, attributesToSearchOn, vector or hybrid match',
    body: 'json',
    handler({ params, body, contentType, services, grant }) {
      const uid = checkIndexUid(params.indexUid)
      const { input, read } = takeReadOptions(readJsonBody(body, contentType))
      if (!isPlainObject(input)) {
        throw badRequest('bad_request', 'Invalid facet search request: expected a JSON object')
      }
      const { facetName, facetQuery, exhaustiveFacetCount, ...rest } = input
      const search = engineSearch({ services, grant }, uid, rest)
      const request = { ...search, facetName, facetQuery, exhaustiveFacetCount } as FacetSearchParams
      return services.engine.index(uid).facetSearch(request, read)
    },
  },
]

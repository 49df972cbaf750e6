import type { ClusterRegionLink } from './cluster/cluster-region-link.ts'
import { ApiError, badRequest } from './errors.ts'
import { parseRegionLinkPatch } from './regions/region-config.ts'
import { invalidRegionPromotion, regionsNotConfigured } from './regions/region-errors.ts'
import type { RegionRuntime } from './regions/region-runtime.ts'
import { readJsonBody } from './request-body.ts'
import type { RouteSpec, Services } from './route-spec.ts'

function requireRegions(services: Services): RegionRuntime | ClusterRegionLink {
  if (services.regions === undefined) throw regionsNotConfigured()
  return services.regions
}

/** The region link and the conflict log (docs/multi-region.md). */
export const regionRoutes: RouteSpec[] = [
  {
    method: 'GET',
    url: '/admin/regions',
    action: 'cluster.get',
    tag: 'Regions',
    summary:
      'This region’s name, p2p addresses, seeds, replicated indexes and, per linked region, the lag in seconds and sequence numbers',
    handler({ services }) {
      return requireRegions(services).status()
    },
  },
  {
    method: 'PATCH',
    url: '/admin/regions',
    action: 'cluster.update',
    tag: 'Regions',
    summary:
      'Changes the region link: seeds, the inter-region key, and which indexes are replicated with which mode and conflict resolution',
    body: 'json',
    handler({ services, body, contentType }) {
      const regions = requireRegions(services)
      return regions.patch(parseRegionLinkPatch(readJsonBody(body, contentType)))
    },
  },
  {
    method: 'GET',
    url: '/admin/conflicts',
    action: 'cluster.get',
    tag: 'Regions',
    summary:
      'The conflict log: every write that lost under last-writer-wins, and those waiting for manual resolution',
    queryParams: ['status'],
    handler({ services, query }) {
      const status = query.status
      if (status !== undefined && status !== 'open' && status !== 'resolved')
        throw badRequest('invalid_conflict_filter', '`status` must be `open` or `resolved`')
      return requireRegions(services).conflicts(status === undefined ? {} : { status })
    },
  },
  {
    method: 'POST',
    url: '/admin/conflicts/:conflictId/resolve',
    action: 'cluster.update',
    tag: 'Regions',
    summary:
      'Resolves an open conflict: `{"keep": "winner"}` keeps what is served, `{"keep": "loser"}` writes the losing version again, in every region',
    body: 'json',
    handler({ services, params, body, contentType }) {
      const regions = requireRegions(services)
      const parsed = readJsonBody(body, contentType) as Record<string, unknown> | null
      if (
        typeof parsed !== 'object' ||
        parsed === null ||
        Object.keys(parsed).some((k) => k !== 'keep') ||
        (parsed.keep !== 'winner' && parsed.keep !== 'loser')
      )
        throw badRequest(
          'invalid_conflict_resolution',
          'the body must be `{"keep": "winner"}` or `{"keep": "loser"}`',
        )
      return regions.resolve(params.conflictId ?? '', parsed.keep, async (conflict) => {
        const index = services.engine.index(conflict.index)
        const document = conflict.loser.document
        if (conflict.documentId === '(settings)')
          throw new ApiError(
            409,
            'conflict_not_rewritable',
            'a settings conflict is resolved by setting the settings again',
            'invalid_request',
          )
        if (document === null) await index.deleteDocument(conflict.documentId)
        else await index.addDocuments([document as object])
      })
    },
  },
  {
    method: 'POST',
    url: '/admin/regions/:name/promote',
    action: 'cluster.update',
    tag: 'Regions',
    summary:
      'Makes this region (`name`) the writer of its single-writer indexes at the next epoch, durably; the regions that learn the new epoch refuse writes to them',
    body: 'json',
    handler({ services, params, body, contentType }) {
      const regions = requireRegions(services)
      const parsed = readJsonBody(body, contentType) ?? {}
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw invalidRegionPromotion('the body must be absent, `{}` or `{"indexes": ["uid", …]}`')
      const { indexes, ...rest } = parsed as Record<string, unknown>
      if (Object.keys(rest).length > 0)
        throw invalidRegionPromotion(
          `unknown field \`${Object.keys(rest)[0]}\`: a promotion takes \`indexes\` only`,
        )
      if (
        indexes !== undefined &&
        (!Array.isArray(indexes) || indexes.length === 0 || !indexes.every((i) => typeof i === 'string'))
      )
        throw invalidRegionPromotion('`indexes` must be a non-empty array of index uids')
      return regions.promote(params.name ?? '', indexes as string[] | undefined)
    },
  },
]

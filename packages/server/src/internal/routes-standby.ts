import { ApiError, badRequest } from './errors.ts'
import { readJsonBody } from './request-body.ts'
import type { RouteSpec, Services } from './route-spec.ts'
import type { StandbyRuntime } from './standby/standby-runtime.ts'

function requireStandby(services: Services): StandbyRuntime {
  const standby = services.standby
  if (standby === undefined)
    throw new ApiError(
      409,
      'standby_not_configured',
      'This node has no hot standby link: start it with --standby-mode (a primary) or --standby-of (a standby).',
    )
  return standby
}

/** `GET /admin/standby` and `POST /admin/standby/promote` (docs/standby.md). */
export const standbyRoutes: RouteSpec[] = [
  {
    method: 'GET',
    url: '/admin/standby',
    action: 'cluster.get',
    tag: 'Standby',
    summary:
      'This node’s hot standby role (primary, standby or fenced), epoch, mode and lag: entries and seconds the standby is behind',
    handler({ services }) {
      return requireStandby(services).status()
    },
  },
  {
    method: 'POST',
    url: '/admin/standby/promote',
    action: 'cluster.update',
    tag: 'Standby',
    summary:
      'Promotes this standby to primary: it stops following, records a higher epoch durably and takes writes; the old primary is fenced',
    async handler({ services, body, contentType }) {
      const parsed = body === undefined || body === null || body === '' ? {} : readJsonBody(body, contentType)
      if (
        typeof parsed !== 'object' ||
        parsed === null ||
        Array.isArray(parsed) ||
        Object.keys(parsed).length > 0
      )
        throw badRequest('invalid_standby_request', 'promotion takes no parameters: send no body or `{}`')
      return requireStandby(services).promote()
    },
  },
]

import { readJsonBody } from './request-body.ts'
import type { RouteSpec } from './route-spec.ts'

/**
 * `/webhooks`: URLs sent the tasks of each finished batch (see webhooks.ts). On a cluster node
 * they live in the cluster's metadata (cluster/cluster-webhooks.ts): every node shows the same
 * ones and the node that runs the tasks delivers them.
 */

export const webhookRoutes: RouteSpec[] = [
  {
    method: 'GET',
    url: '/webhooks',
    action: 'webhooks.get',
    tag: 'Webhooks',
    summary: 'List webhooks (`authorization` header values redacted)',
    handler({ services }) {
      return services.webhooks.list()
    },
  },
  {
    method: 'POST',
    url: '/webhooks',
    action: 'webhooks.create',
    tag: 'Webhooks',
    summary:
      'Add a webhook `{ url, headers }`: each finished batch is POSTed to it as NDJSON, retried on network errors, 5xx and 429',
    status: 201,
    body: 'json',
    handler({ body, contentType, services }) {
      return services.webhooks.create(readJsonBody(body, contentType))
    },
  },
  {
    method: 'GET',
    url: '/webhooks/:uuid',
    action: 'webhooks.get',
    tag: 'Webhooks',
    summary: 'One webhook',
    handler({ params, services }) {
      return services.webhooks.get(params.uuid ?? '')
    },
  },
  {
    method: 'PATCH',
    url: '/webhooks/:uuid',
    action: 'webhooks.update',
    tag: 'Webhooks',
    summary: 'Change a webhook: `url`, `headers` (a header set to `null` is removed)',
    body: 'json',
    handler({ params, body, contentType, services }) {
      return services.webhooks.update(params.uuid ?? '', readJsonBody(body, contentType))
    },
  },
  {
    method: 'DELETE',
    url: '/webhooks/:uuid',
    action: 'webhooks.delete',
    tag: 'Webhooks',
    summary: 'Delete a webhook',
    status: 204,
    async handler({ params, services }) {
      await services.webhooks.delete(params.uuid ?? '')
      return undefined
    },
  },
]

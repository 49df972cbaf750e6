import { badRequest } from './errors.ts'
import { isPlainObject, readJsonBody } from './request-body.ts'
import { intParam, type RouteSpec } from './route-spec.ts'

export const keyRoutes: RouteSpec[] = [
  {
    method: 'GET',
    url: '/keys',
    action: 'keys.get',
    tag: 'Keys',
    summary: 'List API keys with offset/limit',
    queryParams: ['offset', 'limit'],
    handler({ query, services }) {
      return services.keys.list(
        intParam(query.offset, 'invalid_api_key_offset', 'offset', 0),
        intParam(query.limit, 'invalid_api_key_limit', 'limit', 20),
      )
    },
  },
  {
    method: 'POST',
    url: '/keys',
    action: 'keys.create',
    tag: 'Keys',
    summary: 'Create an API key: actions, indexes, expiresAt, optional uid/name/description',
    status: 201,
    body: 'json',
    handler({ body, contentType, services }) {
      const input = readJsonBody(body, contentType)
      if (!isPlainObject(input)) throw badRequest('bad_request', 'Expected a JSON object')
      return services.keys.create(input)
    },
  },
  {
    method: 'GET',
    url: '/keys/:key',
    action: 'keys.get',
    tag: 'Keys',
    summary: 'Get an API key by its key or uid',
    handler({ params, services }) {
      return services.keys.get(params.key ?? '')
    },
  },
  {
    method: 'PATCH',
    url: '/keys/:key',
    action: 'keys.update',
    tag: 'Keys',
    summary: "Update an API key's name or description",
    body: 'json',
    handler({ params, body, contentType, services }) {
      const input = readJsonBody(body, contentType)
      if (!isPlainObject(input)) throw badRequest('bad_request', 'Expected a JSON object')
      return services.keys.update(params.key ?? '', input)
    },
  },
  {
    method: 'DELETE',
    url: '/keys/:key',
    action: 'keys.delete',
    tag: 'Keys',
    summary: 'Delete an API key',
    status: 204,
    async handler({ params, services }) {
      await services.keys.delete(params.key ?? '')
      return undefined
    },
  },
]

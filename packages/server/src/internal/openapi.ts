import type { RouteSpec } from './route-spec.ts'

/**
 * The OpenAPI 3.1 description, generated from the route table so that it
 * lists exactly the routes the server registers.
 */
export function buildOpenApi(routes: RouteSpec[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}')
    const pathParams = [...route.url.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]!)
    const status = String(route.status ?? 200)
    const operation: Record<string, unknown> = {
      tags: [route.tag],
      summary: route.summary,
      operationId: operationId(route),
      parameters: [
        ...pathParams.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
        ...(route.queryParams ?? []).map((name) => ({
          name,
          in: 'query',
          required: false,
          schema: { type: 'string' },
        })),
      ],
      responses: {
        [status]: {
          description:
            status === '202' ? 'Task enqueued: `{ taskUid, indexUid, status, type, enqueuedAt }`' : 'Success',
        },
        default: {
          description: 'Error',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
      ...(route.action === null ? { security: [] } : { 'x-action': route.action }),
    }
    if (route.body !== undefined) operation.requestBody = requestBody(route.body)
    paths[path] ??= {}
    paths[path][route.method.toLowerCase()] = operation
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Shoal HTTP API',
      version,
      description:
        'Meilisearch-compatible HTTP API of a Shoal node. Writes are tasks: they answer 202 with a task summary and run in order per index; poll `/tasks/{taskUid}`.',
    },
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'The master key or an API key' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['message', 'code', 'type', 'link'],
          properties: {
            message: { type: 'string' },
            code: { type: 'string' },
            type: { type: 'string', enum: ['invalid_request', 'internal', 'auth', 'system'] },
            link: { type: 'string' },
          },
        },
      },
    },
    paths,
  }
}

function requestBody(kind: 'json' | 'documents'): Record<string, unknown> {
  if (kind === 'json') return { content: { 'application/json': { schema: {} } } }
  return {
    required: true,
    content: {
      'application/json': {
        schema: { oneOf: [{ type: 'array', items: { type: 'object' } }, { type: 'object' }] },
      },
      'application/x-ndjson': { schema: { type: 'string' } },
      'text/csv': { schema: { type: 'string' } },
    },
  }
}

function operationId(route: RouteSpec): string {
  const words = route.url
    .split('/')
    .filter((s) => s !== '')
    .map((s) => (s.startsWith(':') ? `by-${s.slice(1)}` : s))
  const camel = [route.method.toLowerCase(), ...words]
    .join('-')
    .replace(/-([a-zA-Z])/g, (_, c: string) => c.toUpperCase())
  return camel
}

/** Markdown reference rendered from the description (docs/api.md). */
export function renderApiMarkdown(spec: Record<string, unknown>): string {
  const paths = spec.paths as Record<
    string,
    Record<string, { summary: string; tags: string[]; 'x-action'?: string }>
  >
  const byTag = new Map<string, string[]>()
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(operations)) {
      const tag = op.tags[0] ?? 'Other'
      const action = op['x-action'] === undefined ? 'public' : `\`${op['x-action']}\``
      const row = `| \`${method.toUpperCase()}\` | \`${path}\` | ${action} | ${op.summary.replace(/\|/g, '\\|')} |`
      byTag.set(tag, [...(byTag.get(tag) ?? []), row])
    }
  }
  const info = spec.info as { title: string; version: string; description: string }
  const lines = [
    `# ${info.title}`,
    '',
    '<!-- Generated from the route table by `node packages/server/scripts/render-api-docs.ts` (then `pnpm format`); do not edit by hand. -->',
    '',
    info.description,
    '',
    'The machine-readable description is served at `GET /openapi.json`. Send the master key or an API key as',
    '`Authorization: Bearer <key>`; the "key action" column names the action a key needs.',
    "Errors are `{ message, code, type, link }` with Meilisearch's codes and statuses.",
    '',
  ]
  for (const [tag, rows] of byTag) {
    lines.push(
      `## ${tag}`,
      '',
      '| Method | Path | Key action | What it does |',
      '| --- | --- | --- | --- |',
      ...rows,
      '',
    )
  }
  return lines.join('\n')
}

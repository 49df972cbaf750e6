import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { buildOpenApi, renderApiMarkdown, renderCompatibility, routeTable } from '../src/index.ts'

describe('OpenAPI description', () => {
  const spec = buildOpenApi(routeTable(), '0.1.0') as { paths: Record<string, Record<string, unknown>> }

  it('describes every registered route exactly once', () => {
    const described = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m} ${path}`),
    )
    const registered = routeTable().map(
      (r) => `${r.method.toLowerCase()} ${r.url.replace(/:([A-Za-z]+)/g, '{$1}')}`,
    )
    expect(described.sort()).toEqual([...new Set(registered)].sort())
    expect(registered.length).toBe(new Set(registered).size)
  })

  it('covers the Meilisearch surface the server promises', () => {
    for (const path of [
      '/indexes',
      '/indexes/{indexUid}/documents',
      '/indexes/{indexUid}/search',
      '/multi-search',
      '/tasks/{taskUid}',
      '/keys/{key}',
      '/stats',
      '/health',
      '/version',
    ]) {
      expect(spec.paths[path], path).toBeDefined()
    }
  })

  it('docs/api.md is rendered from the current route table', async () => {
    const manifest = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string
    }
    const committed = await readFile(new URL('../../../docs/api.md', import.meta.url), 'utf8')
    // Compared without the column padding that the formatter adds to tables.
    const normalise = (text: string) => text.replace(/-{3,}/g, '---').replace(/ +/g, ' ')
    expect(normalise(committed)).toBe(
      normalise(renderApiMarkdown(buildOpenApi(routeTable(), manifest.version))),
    )
  })

  it('docs/meilisearch-compatibility.md is rendered from the current route table and parsers', async () => {
    const committed = await readFile(
      new URL('../../../docs/meilisearch-compatibility.md', import.meta.url),
      'utf8',
    )
    const normalise = (text: string) => text.replace(/-{3,}/g, '---').replace(/ +/g, ' ')
    expect(normalise(committed)).toBe(normalise(renderCompatibility(routeTable())))
  })
})

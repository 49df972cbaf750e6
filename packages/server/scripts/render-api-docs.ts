/**
 * Renders docs/api.md from the route table (the same source as /openapi.json).
 *
 *   node packages/server/scripts/render-api-docs.ts && pnpm format
 */
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { buildOpenApi, renderApiMarkdown, routeTable } from '../src/index.ts'

const manifest = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string
}
const target = fileURLToPath(new URL('../../../docs/api.md', import.meta.url))
await writeFile(target, renderApiMarkdown(buildOpenApi(routeTable(), manifest.version)))
process.stdout.write(`wrote ${target}\n`)

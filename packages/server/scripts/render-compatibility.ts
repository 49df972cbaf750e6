/**
 * Renders docs/meilisearch-compatibility.md from the route table and the
 * search and settings parsers.
 *
 *   node packages/server/scripts/render-compatibility.ts && pnpm format
 */
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { renderCompatibility, routeTable } from '../src/index.ts'

const target = fileURLToPath(new URL('../../../docs/meilisearch-compatibility.md', import.meta.url))
await writeFile(target, renderCompatibility(routeTable()))
process.stdout.write(`wrote ${target}\n`)

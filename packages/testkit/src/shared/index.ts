import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..')

/**
 * Where the shared test data lives (the Debian corpus, the recorded
 * linearizability histories): `$SHOAL_SHARED_DIR` when set, else the
 * `shared/` folder beside the repository, else `/work/shared`. Throws, naming
 * every place it looked, when none holds `relative`.
 */
export function sharedPath(relative: string): string {
  const roots = [
    ...(process.env.SHOAL_SHARED_DIR ? [process.env.SHOAL_SHARED_DIR] : []),
    path.resolve(repositoryRoot, '../shared'),
    '/work/shared',
  ]
  for (const root of roots) {
    const candidate = path.join(root, relative)
    if (existsSync(candidate)) return candidate
  }
  throw new Error(
    `shared test data '${relative}' not found; looked in ${roots.join(', ')} (set SHOAL_SHARED_DIR to the folder that holds it)`,
  )
}

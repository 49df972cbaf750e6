/**
 * `pnpm start`: until the server package lands, Shoal's main job is to build
 * every package and report what was built.
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const folders = (await readdir(path.join(root, 'packages'))).sort()
process.stdout.write(`Shoal workspace at ${root}\n\n`)
for (const folder of folders) {
  const manifest = JSON.parse(
    await readFile(path.join(root, 'packages', folder, 'package.json'), 'utf8'),
  ) as {
    name: string
    version: string
    private?: boolean
    description?: string
  }
  const built = await stat(path.join(root, 'packages', folder, 'dist/index.js')).then(
    () => 'built',
    () => (manifest.private === true ? 'source only' : 'NOT BUILT'),
  )
  process.stdout.write(
    `  ${manifest.name.padEnd(18)} ${manifest.version.padEnd(8)} ${built.padEnd(12)} ${manifest.description ?? ''}\n`,
  )
}
process.stdout.write('\nThe server (`shoal start`, port 7700) is not part of the workspace yet.\n')

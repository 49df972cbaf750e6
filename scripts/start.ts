/**
 * `pnpm start` (and `bash scripts/start.sh`): runs a Shoal node on the
 * embedded default — data in ./shoal-data (ignored by git), HTTP on
 * 127.0.0.1:7700 — with the sample dataset loaded, and prints how to query it.
 * Extra arguments go to `shoal start` (e.g. `--http-addr 127.0.0.1:7701`).
 */
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const cli = path.join(root, 'packages/server/dist/cli.js')
const args = [
  'start',
  '--data-dir',
  path.join(root, 'shoal-data'),
  '--log-level',
  'warn',
  '--load-sample',
  ...process.argv.slice(2),
]
const child = spawn(process.execPath, [cli, ...args], { stdio: 'inherit' })
// The node handles Ctrl-C itself (graceful shutdown); this wrapper only waits for it.
process.on('SIGINT', () => {})
process.on('SIGTERM', () => child.kill('SIGTERM'))
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal === null ? 1 : 128)
})

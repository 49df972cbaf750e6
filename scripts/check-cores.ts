/**
 * Protocol cores are deterministic: time is a logical tick and randomness an
 * injected Rng. The compiler keeps timers, console, Buffer and process out of
 * them (they build with `"types": []`); this check keeps out what the ES
 * library itself offers: wall-clock reads and unseeded randomness.
 */
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const coreFolders = ['packages/hashring/src', 'packages/raft/src/core', 'packages/swim/src/core']
const banned: Array<[RegExp, string]> = [
  [/\bDate\.now\s*\(/, 'Date.now() reads the wall clock; take time as ticks'],
  [/\bnew Date\s*\(/, 'new Date() reads the wall clock; take time as ticks'],
  [/\bMath\.random\s*\(/, 'Math.random() is unseeded; use the injected Rng'],
  [/\bperformance\.now\s*\(/, 'performance.now() reads a clock; take time as ticks'],
  [/\bset(Timeout|Interval|Immediate)\s*\(/, 'timers belong in the driver, not in a core'],
]

async function* walk(folder: string): AsyncGenerator<string> {
  const entries = await readdir(folder, { withFileTypes: true }).catch(() => [])
  for (const entry of entries) {
    const full = path.join(folder, entry.name)
    if (entry.isDirectory()) yield* walk(full)
    else if (entry.name.endsWith('.ts')) yield full
  }
}

let problems = 0
for (const folder of coreFolders) {
  for await (const file of walk(path.join(root, folder))) {
    const lines = (await readFile(file, 'utf8')).split('\n')
    lines.forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '')
      for (const [pattern, why] of banned) {
        if (pattern.test(code)) {
          problems += 1
          process.stderr.write(`${path.relative(root, file)}:${i + 1}: ${why}\n`)
        }
      }
    })
  }
}
if (problems > 0) {
  process.stderr.write(`check-cores: ${problems} problem(s)\n`)
  process.exit(1)
}
process.stdout.write('check-cores: protocol cores are free of clocks, timers and unseeded randomness\n')

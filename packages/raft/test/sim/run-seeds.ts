/**
 * Runs simulation seeds from the command line, for replaying and sweeping:
 * `node test/sim/run-seeds.ts <firstSeed> [count]`. Prints the first failure.
 */
import { defaultSimOptions, SimCluster } from './cluster.ts'

const first = Number.parseInt(process.argv[2] ?? '1', 10)
const count = Number.parseInt(process.argv[3] ?? '1', 10)
const started = performance.now()
for (let seed = first; seed < first + count; seed++) {
  const cluster = new SimCluster(
    defaultSimOptions(seed, { checkEveryStep: process.env.NOCHECK === undefined }),
  )
  try {
    cluster.run()
  } catch (error) {
    process.stdout.write(
      `seed ${seed} failed: ${String(error)}\n${cluster.describe()}\n${cluster.trace.join('\n')}\n`,
    )
    process.exit(1)
  }
}
const ms = performance.now() - started
process.stdout.write(`${count} seeds passed in ${ms.toFixed(0)} ms (${(ms / count).toFixed(1)} ms/seed)\n`)

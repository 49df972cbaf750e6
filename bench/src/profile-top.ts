/**
 * Prints where a CPU profile's time goes: self time per stage and per function.
 *
 *   node bench/src/profile-top.ts <file.cpuprofile> [--from-us N] [--to-us N] [--top N]
 *
 * `--from-us` / `--to-us` keep the samples of a window on the monotonic clock (the bench logs
 * the window of a timed pass when it profiles another process).
 */
import { parseArgs } from 'node:util'
import { formatSummary, readProfile, summarizeProfile } from './profile.ts'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'from-us': { type: 'string' }, 'to-us': { type: 'string' }, top: { type: 'string' } },
})
const file = positionals[0]
if (file === undefined) {
  process.stderr.write(
    'usage: node bench/src/profile-top.ts <file.cpuprofile> [--from-us N] [--to-us N] [--top N]\n',
  )
  process.exit(2)
}
const number = (v: string | undefined) => (v === undefined ? undefined : Number(v))
const window = {
  ...(values['from-us'] === undefined ? {} : { fromUs: number(values['from-us'])! }),
  ...(values['to-us'] === undefined ? {} : { toUs: number(values['to-us'])! }),
}
process.stdout.write(
  `${formatSummary(file, summarizeProfile(readProfile(file), window, number(values.top) ?? 20))}\n`,
)

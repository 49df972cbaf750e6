/**
 * Checks benchmark results after the smoke run (CI, `.ci/run`): every committed
 * `bench/results/<suite>.json` and every smoke result in `bench/results/smoke/`
 * must carry the peers' exact versions, the machine load at the start and the
 * end, and, for every timed ratio, the rounds it was taken over (at least 5)
 * and its spread (min ≤ median ≤ max). A suite listed in PENDING (or, for its
 * committed full results only, in NOT_RERUN) is reported but does not fail the
 * check; each entry says why it is there.
 *
 * Usage: node scripts/check-bench-results.ts [--no-smoke]
 */
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const MIN_ROUNDS = 5
/**
 * A smoke run only proves the code path in CI's time budget: its ratios need rounds and a spread,
 * over at least two rounds; suites whose rounds cost whole process kills run two there.
 */
const MIN_SMOKE_ROUNDS = 2

/** Suites whose results predate the rules and are re-run elsewhere, with the reason. */
const PENDING: Record<string, string> = {}

/**
 * Suites whose smoke output follows the rules but whose committed full results were taken
 * before them and not yet re-run (a full run is long on a shared machine). Their smoke results
 * are still checked.
 */
const NOT_RERUN: Record<string, string> = {}

interface Result {
  name?: unknown
  metric?: unknown
  value?: unknown
  rounds?: unknown
  min?: unknown
  max?: unknown
  timed?: unknown
}

/** The problems of one results file; empty when it follows the rules. */
export function problemsOf(report: unknown, full: boolean): string[] {
  const problems: string[] = []
  const minRounds = full ? MIN_ROUNDS : MIN_SMOKE_ROUNDS
  if (typeof report !== 'object' || report === null) return ['not a JSON object']
  const r = report as Record<string, unknown>
  const peers = r.peers
  if (typeof peers !== 'object' || peers === null || Array.isArray(peers)) {
    problems.push('no "peers" (the exact versions of the peers compared with)')
  } else {
    for (const [name, version] of Object.entries(peers)) {
      if (typeof version !== 'string' || version === '') problems.push(`peer ${name} has no version`)
      else if (full && version === 'absent') problems.push(`peer ${name} was absent in a full run`)
    }
  }
  const load = r.load as { start?: { loadavg?: unknown }; end?: { loadavg?: unknown } } | undefined
  for (const when of ['start', 'end'] as const) {
    const avg = load?.[when]?.loadavg
    if (!Array.isArray(avg) || avg.length !== 3 || !avg.every((v) => typeof v === 'number')) {
      problems.push(`no machine load at the ${when} ("load.${when}.loadavg")`)
    }
  }
  if (typeof r.rounds !== 'number') problems.push('no "rounds"')
  const results = Array.isArray(r.results) ? (r.results as Result[]) : []
  if (!Array.isArray(r.results)) problems.push('no "results"')
  let timedRatios = 0
  for (const result of results) {
    if (result.metric !== 'ratio' || result.timed === false) continue
    timedRatios++
    const name = String(result.name)
    if (typeof result.rounds !== 'number' || result.rounds < minRounds) {
      problems.push(`ratio ${name} was not taken over ≥ ${minRounds} interleaved rounds`)
      continue
    }
    const { value, min, max } = result
    if (typeof min !== 'number' || typeof max !== 'number' || typeof value !== 'number') {
      problems.push(`ratio ${name} has no spread (min, max)`)
    } else if (!(min <= value * (1 + 1e-9) && value <= max * (1 + 1e-9))) {
      problems.push(`ratio ${name}: median ${value} is outside its spread ${min}–${max}`)
    }
  }
  if (timedRatios > 0 && typeof r.rounds === 'number' && r.rounds < minRounds) {
    problems.push(`"rounds" is ${r.rounds}, fewer than ${minRounds}`)
  }
  return problems
}

async function jsonFiles(folder: string): Promise<string[]> {
  const names = await readdir(folder).catch(() => [] as string[])
  return names.filter((n) => n.endsWith('.json')).map((n) => path.join(folder, n))
}

async function main(): Promise<void> {
  const smoke = !process.argv.includes('--no-smoke')
  const files = [
    ...(await jsonFiles(path.join(root, 'bench/results'))).map((f) => ({ file: f, full: true })),
    ...(smoke ? await jsonFiles(path.join(root, 'bench/results/smoke')) : []).map((f) => ({
      file: f,
      full: false,
    })),
  ]
  if (smoke && !files.some((f) => !f.full)) {
    throw new Error('no smoke results in bench/results/smoke: run `pnpm bench --smoke` first')
  }
  let failed = 0
  for (const { file, full } of files) {
    const suite = path.basename(file, '.json')
    const problems = problemsOf(JSON.parse(await readFile(file, 'utf8')), full)
    if (problems.length === 0) continue
    const where = path.relative(root, file)
    const pending = PENDING[suite] ?? (full ? NOT_RERUN[suite] : undefined)
    if (pending !== undefined) {
      process.stdout.write(`pending ${where}: ${problems.length} problem(s); ${pending}\n`)
      continue
    }
    failed++
    for (const problem of problems) process.stderr.write(`${where}: ${problem}\n`)
  }
  process.stdout.write(`bench results: ${files.length} files checked, ${failed} failing\n`)
  if (failed > 0) process.exitCode = 1
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})

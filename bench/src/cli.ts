/**
 * `pnpm bench [suite ...] [--smoke]`: runs benchmark suites and writes their
 * results as JSON. Full runs write `bench/results/<suite>.json` (committed, so
 * every quoted figure has its data beside it); smoke runs write
 * `bench/results/smoke/<suite>.json` and never overwrite a full run.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { machineInfo } from './machine.ts'
import { type BenchResult, measure, type Suite, type SuiteContext, type SuiteReport } from './suite.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

async function discoverSuites(): Promise<Map<string, string>> {
  const found = new Map<string, string>()
  const folders = [path.join(root, 'bench/suites')]
  for (const pkg of await readdir(path.join(root, 'packages')).catch(() => [])) {
    folders.push(path.join(root, 'packages', pkg, 'bench'))
  }
  for (const folder of folders) {
    const files = await readdir(folder).catch(() => [] as string[])
    for (const file of files.sort()) {
      if (!file.endsWith('.bench.ts')) continue
      const name = file.slice(0, -'.bench.ts'.length)
      if (found.has(name)) throw new Error(`two suites are named ${name}: ${found.get(name)} and ${folder}`)
      found.set(name, path.join(folder, file))
    }
  }
  return found
}

function checkResult(suite: string, result: BenchResult): void {
  if (!result.name || !result.metric || !result.unit) {
    throw new Error(`suite ${suite}: a result needs name, metric and unit: ${JSON.stringify(result)}`)
  }
  if (!Number.isFinite(result.value))
    throw new Error(`suite ${suite}: ${result.name} has value ${result.value}`)
}

async function runSuite(name: string, file: string, smoke: boolean): Promise<string> {
  const module = (await import(pathToFileURL(file).href)) as { default?: Suite }
  const suite = module.default
  if (suite === undefined || typeof suite.run !== 'function') throw new Error(`${file} has no default suite`)
  const results: BenchResult[] = []
  const seed = Number(process.env.SEED ?? 42)
  const ctx: SuiteContext = {
    smoke,
    seed,
    log: (message) => process.stderr.write(`[bench ${name}] ${message}\n`),
    record: (result) => {
      checkResult(name, result)
      results.push(result)
    },
    measure: async (taskName, fn, options = {}) => {
      const m = await measure(taskName, fn, smoke, options)
      const peer = options.peer === undefined ? {} : { peer: options.peer }
      ctx.record({ name: taskName, metric: 'ops/s', value: m.opsPerSecond, unit: 'ops/s', ...peer })
      ctx.record({ name: taskName, metric: 'p50-latency', value: m.p50Ms, unit: 'ms', ...peer })
      ctx.record({ name: taskName, metric: 'p99-latency', value: m.p99Ms, unit: 'ms', ...peer })
      ctx.log(
        `${taskName}: ${Math.round(m.opsPerSecond).toLocaleString('en')} ops/s (p50 ${m.p50Ms.toFixed(4)} ms)`,
      )
      return m
    },
    ratio: (ratioName, ours, peer, peerName) => {
      const ratio = ours / peer
      ctx.record({ name: ratioName, metric: 'ratio', value: ratio, unit: 'x', peer: peerName, ratio })
      ctx.log(`${ratioName}: ${ratio.toFixed(2)}x ${peerName}`)
      return ratio
    },
  }
  const started = performance.now()
  await suite.run(ctx)
  const report: SuiteReport = {
    suite: name,
    description: suite.description,
    smoke,
    machine: machineInfo(),
    results,
  }
  const folder = smoke ? path.join(root, 'bench/results/smoke') : path.join(root, 'bench/results')
  await mkdir(folder, { recursive: true })
  const out = path.join(folder, `${name}.json`)
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`)
  ctx.log(
    `done in ${((performance.now() - started) / 1000).toFixed(1)} s, ${results.length} figures → ${path.relative(root, out)}`,
  )
  return out
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const smoke = args.includes('--smoke')
  const wanted = args.filter((a) => !a.startsWith('--'))
  const suites = await discoverSuites()
  for (const name of wanted) {
    if (!suites.has(name)) throw new Error(`no suite named ${name}; suites: ${[...suites.keys()].join(', ')}`)
  }
  const selected = wanted.length > 0 ? wanted : [...suites.keys()]
  for (const name of selected) await runSuite(name, suites.get(name)!, smoke)
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})

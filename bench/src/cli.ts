/**
 * `pnpm bench [suite ...] [--smoke]`: runs benchmark suites and writes their
 * results as JSON. Full runs write `bench/results/<suite>.json` (committed, so
 * every quoted figure has its data beside it); smoke runs write
 * `bench/results/smoke/<suite>.json` and never overwrite a full run.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { createContext, type RunState } from './context.ts'
import { loadSample, machineInfo } from './machine.ts'
import { peerVersions } from './peers.ts'
import type { Suite, SuiteReport } from './suite.ts'

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

async function runSuite(name: string, file: string, smoke: boolean): Promise<string> {
  const module = (await import(pathToFileURL(file).href)) as { default?: Suite }
  const suite = module.default
  if (suite === undefined || typeof suite.run !== 'function') throw new Error(`${file} has no default suite`)
  const seed = Number(process.env.SEED ?? 42)
  const state: RunState = { results: [], peers: {}, rounds: 0, loadStart: loadSample() }
  // Versions first: a peer missing from a full run shows in the results, not only in a log.
  Object.assign(state.peers, peerVersions(suite.peers ?? {}, file))
  const ctx = createContext(name, smoke, seed, state)
  ctx.log(`load average at start: ${state.loadStart.loadavg.map((l) => l.toFixed(2)).join(' ')}`)
  const started = performance.now()
  await suite.run(ctx)
  const report: SuiteReport = {
    suite: name,
    description: suite.description,
    smoke,
    machine: machineInfo(),
    peers: state.peers,
    load: { start: state.loadStart, end: loadSample() },
    rounds: state.rounds,
    results: state.results,
  }
  const folder = smoke ? path.join(root, 'bench/results/smoke') : path.join(root, 'bench/results')
  await mkdir(folder, { recursive: true })
  const out = path.join(folder, `${name}.json`)
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`)
  ctx.log(`load average at end: ${report.load.end.loadavg.map((l) => l.toFixed(2)).join(' ')}`)
  ctx.log(
    `done in ${((performance.now() - started) / 1000).toFixed(1)} s, ${state.results.length} figures → ${path.relative(root, out)}`,
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

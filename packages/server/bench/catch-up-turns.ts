/**
 * Names the long turns of a shard catch-up: the leader taking its image in slices
 * (`imageInSlices`) and a new replica restoring it (`restoreImage`), on the `shard-catch-up`
 * suite's documents, printing every stretch of main-thread CPU time between two pauses longer than
 * `TURN_MS` with the call that ended it (the pause's caller) and the garbage collections within.
 * CPU time, not wall time: on a shared machine a turn's wall time is mostly waiting for a core.
 * Work that starts several sliced jobs in one turn calls several pauses in it: each is listed, with
 * the CPU time from the turn's start (so the last of them is the turn's length).
 *
 *   node packages/server/bench/catch-up-turns.ts   (after a build)
 *
 * Environment: `CATCH_UP_DOCS` (30,000), `CATCH_UP_DIMENSIONS` (64), `TURN_MS` (15), `ROUNDS` (2).
 * The engine pauses with `setImmediate`; this script wraps it, so it is a diagnostic, not a suite.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { PerformanceObserver } from 'node:perf_hooks'
import { type Command, openReplica } from '@shoal/engine'
import { shardLog } from './shard-catch-up.bench.ts'

const docs = Number(process.env.CATCH_UP_DOCS ?? 30_000)
const dimensions = Number(process.env.CATCH_UP_DIMENSIONS ?? 64)
const turnMs = Number(process.env.TURN_MS ?? 15)
const rounds = Number(process.env.ROUNDS ?? 2)

const cpuMs = () => {
  const used = process.threadCpuUsage()
  return (used.user + used.system) / 1000
}

const collections: { startMs: number; ms: number }[] = []
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) collections.push({ startMs: entry.startTime, ms: entry.duration })
}).observe({ entryTypes: ['gc'] })

interface Turn {
  cpuMs: number
  wallMs: number
  gcMs: number
  endedBy: string
}

/** Where the engine's code called the pause that ended a turn: its first frames outside this file. */
function caller(): string {
  const frames = (new Error().stack ?? '').split('\n').slice(3)
  return frames
    .filter((frame) => frame.includes('/packages/') && !frame.includes('catch-up-turns'))
    .slice(1, 4)
    .map((frame) =>
      frame
        .trim()
        .replace(/^at /, '')
        .replace(/\(?file:.*\/packages\//, '')
        .replace(/\)$/, ''),
    )
    .join(' < ')
}

let tracing = false
let turnStartCpu = 0
let turnStartWall = 0
const turns: Turn[] = []
const realSetImmediate = globalThis.setImmediate
const traced = ((callback: (...args: unknown[]) => void, ...args: unknown[]) => {
  if (tracing) {
    const cpu = cpuMs() - turnStartCpu
    const from = turnStartWall
    const to = performance.now()
    if (cpu > turnMs) {
      const gcMs = collections
        .filter((c) => c.startMs >= from && c.startMs < to)
        .reduce((a, c) => a + c.ms, 0)
      turns.push({ cpuMs: cpu, wallMs: to - from, gcMs, endedBy: caller() })
    }
  }
  return realSetImmediate(() => {
    turnStartCpu = cpuMs()
    turnStartWall = performance.now()
    callback(...args)
  })
}) as typeof setImmediate
globalThis.setImmediate = traced

async function trace(name: string, work: () => Promise<unknown>): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 100))
  turns.length = 0
  turnStartCpu = cpuMs()
  turnStartWall = performance.now()
  tracing = true
  const started = cpuMs()
  await work()
  tracing = false
  const tail = cpuMs() - turnStartCpu
  if (tail > turnMs)
    turns.push({ cpuMs: tail, wallMs: performance.now() - turnStartWall, gcMs: 0, endedBy: 'the end' })
  console.log(
    `${name}: ${(cpuMs() - started).toFixed(0)} ms of CPU; turns over ${turnMs} ms of CPU: ${turns.length}`,
  )
  for (const turn of turns) {
    console.log(
      `  ${turn.cpuMs.toFixed(1)} ms CPU (${turn.wallMs.toFixed(0)} ms wall, gc ${turn.gcMs.toFixed(0)} ms), ended by ${turn.endedBy}`,
    )
  }
}

const root = await mkdtemp(path.join(tmpdir(), 'shoal-catch-up-turns-'))
try {
  const leader = await openReplica(path.join(root, 'leader'))
  for (const command of shardLog(docs, dimensions, 7).commands as Command[]) {
    const result = await leader.apply(command)
    if (!result.ok) throw new Error(`apply ${command.type}: ${result.error.message}`)
  }
  await leader.whenVectorsIndexed()
  console.log(`${docs} documents, ${dimensions}-d vectors; load ${loadavg()[0]?.toFixed(1)}`)
  for (let round = 0; round < rounds; round++) {
    let image: Uint8Array = new Uint8Array(0)
    await trace('leader imageInSlices', async () => {
      image = await leader.imageInSlices()
    })
    const replica = await openReplica(path.join(root, `replica-${round}`))
    await trace(`new replica restoreImage (${(image.byteLength / 2 ** 20).toFixed(1)} MiB)`, () =>
      replica.restoreImage(image),
    )
    await replica.close()
  }
  await leader.close()
  console.log(`load ${loadavg()[0]?.toFixed(1)}`)
} finally {
  await rm(root, { recursive: true, force: true })
}

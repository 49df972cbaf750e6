import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { defineSuite, median, mulberry32, type SuiteContext } from '@shoal/bench'
import { type Command, type Engine, openReplica } from '@shoal/engine'

/**
 * How a new shard replica catches up, in one process on the same data, alternating rounds:
 * - `replay`: the shard's log applied to an empty replica, batch after batch (what a newcomer did
 *   when the leader's log was never compacted: every document indexed again);
 * - `snapshot`: the leader's image encoded in slices (`imageInSlices`) and restored on an empty
 *   replica (what a newcomer does now when it lacks more than Raft `catchUpSnapshotBytes`);
 * and, on the leader, the longest event-loop stall of taking the image in one turn (`image()`)
 * against in slices. For each: the time, the shard's JSON bytes per second, and the longest
 * event-loop stall seen meanwhile (a search waiting behind it waits that long). The network is not
 * in it: on loopback the bytes are not the cost (see `failover` for whole moves).
 * Environment: `CATCH_UP_DOCS` (30,000 documents of ~1 KiB, batches of 5,000),
 * `CATCH_UP_DIMENSIONS` (64: each document also carries a user-provided vector of that many
 * numbers, so the image holds an HNSW graph; 0 for text only).
 */

const DOC_BYTES = 1024
const BATCH = 5_000

interface Shard {
  readonly commands: Command[]
  readonly jsonBytes: number
}

export function shardLog(docs: number, dimensions: number, seed: number): Shard {
  const random = mulberry32(seed)
  const words = Array.from(
    { length: 5_000 },
    (_, i) => `w${i.toString(36)}${Math.floor(random() * 1e6).toString(36)}`,
  )
  const at = new Date(0).toISOString()
  const commands: Command[] = [
    {
      type: 'createIndex',
      uid: 'big',
      primaryKey: 'id',
      settings: {
        filterableAttributes: ['kind'],
        ...(dimensions > 0 ? { embedders: { vec: { source: 'userProvided', dimensions } } } : {}),
      },
      at,
    },
  ]
  let jsonBytes = 0
  for (let from = 0; from < docs; from += BATCH) {
    const documents = []
    for (let id = from; id < Math.min(docs, from + BATCH); id++) {
      const text: string[] = []
      let length = 0
      while (length < DOC_BYTES - 80) {
        const word = words[Math.floor(random() * words.length)] as string
        text.push(word)
        length += word.length + 1
      }
      const doc = {
        id,
        kind: `k${id % 7}`,
        title: `${text[0]} ${text[1]}`,
        body: text.join(' '),
        ...(dimensions > 0
          ? { _vectors: { vec: Array.from({ length: dimensions }, () => random() * 2 - 1) } }
          : {}),
      }
      jsonBytes += JSON.stringify(doc).length
      documents.push(doc)
    }
    commands.push({ type: 'addDocuments', uid: 'big', documents, primaryKey: 'id', merge: false, at })
  }
  return { commands, jsonBytes }
}

async function applyAll(engine: Engine, commands: readonly Command[]): Promise<void> {
  for (const command of commands) {
    const result = await engine.apply(command)
    if (!result.ok) throw new Error(`apply ${command.type}: ${result.error.message}`)
  }
  await engine.whenVectorsIndexed()
}

/** The event-loop probe's resolution; a stall is reported as at least this (no ratio of zeros). */
const PROBE_MS = 1

/** Runs `fn`, returning its milliseconds and the longest event-loop stall meanwhile. */
async function timed(fn: () => Promise<void>): Promise<{ ms: number; stallMs: number }> {
  const delay = monitorEventLoopDelay({ resolution: PROBE_MS })
  delay.enable()
  // The probe measures the gap between two of its firings: let it fire before `fn` starts.
  await new Promise((resolve) => setTimeout(resolve, 10))
  const started = performance.now()
  await fn()
  const ms = performance.now() - started
  // The probe's timer records a stall when it fires after it: let it fire before stopping.
  await new Promise((resolve) => setTimeout(resolve, 20))
  delay.disable()
  return { ms, stallMs: Math.max(PROBE_MS, delay.max / 1e6 - PROBE_MS) }
}

async function catchUp(ctx: SuiteContext, root: string): Promise<void> {
  const docs = ctx.smoke ? 2_000 : Number(process.env.CATCH_UP_DOCS ?? 30_000)
  const dimensions = Number(process.env.CATCH_UP_DIMENSIONS ?? 64)
  const shard = shardLog(docs, dimensions, ctx.seed)
  const mib = shard.jsonBytes / 2 ** 20
  const leader = await openReplica(path.join(root, 'leader'))
  await applyAll(leader, shard.commands)
  const imageBytes = (await leader.imageInSlices()).byteLength
  ctx.log(
    `shard: ${docs} documents (${dimensions > 0 ? `${dimensions}-d vectors` : 'no vectors'}), ${mib.toFixed(1)} MiB of JSON, image ${(imageBytes / 2 ** 20).toFixed(1)} MiB`,
  )
  ctx.record({ name: 'shard', metric: 'vector-dimensions', value: dimensions, unit: 'numbers' })
  ctx.record({ name: 'shard', metric: 'image-bytes', value: imageBytes, unit: 'bytes' })
  let replica = 0
  const fresh = () => openReplica(path.join(root, `replica-${replica++}`))
  const results = await ctx.alternate([
    {
      name: 'replay',
      run: async () => {
        const engine = await fresh()
        const figure = await timed(() => applyAll(engine, shard.commands))
        await engine.close()
        return figure
      },
    },
    {
      name: 'snapshot',
      run: async () => {
        const engine = await fresh()
        const figure = await timed(async () => engine.restoreImage(await leader.imageInSlices()))
        const restoredDocs = engine.index('big').getDocuments({ limit: 1 }).total
        if (restoredDocs !== docs) throw new Error(`restored ${restoredDocs} documents, expected ${docs}`)
        await engine.close()
        return figure
      },
    },
    {
      name: 'image-one-turn',
      run: () =>
        timed(async () => {
          leader.image()
        }),
    },
    {
      name: 'image-in-slices',
      run: () =>
        timed(async () => {
          await leader.imageInSlices()
        }),
    },
  ])
  await leader.close()
  const figures = (name: string) => results.get(name) ?? []
  for (const name of ['replay', 'snapshot', 'image-one-turn', 'image-in-slices']) {
    const rounds = figures(name)
    const ms = median(rounds.map((r) => r.ms))
    const stall = median(rounds.map((r) => r.stallMs))
    ctx.record({ name, metric: 'time', value: ms, unit: 'ms' })
    ctx.record({ name, metric: 'longest-stall', value: stall, unit: 'ms' })
    if (name === 'replay' || name === 'snapshot')
      ctx.record({ name, metric: 'MiB/s', value: mib / (ms / 1000), unit: 'MiB/s' })
    ctx.log(`${name}: ${ms.toFixed(0)} ms, longest event-loop stall ${stall.toFixed(0)} ms (medians)`)
  }
  const times = (name: string) => figures(name).map((r) => r.ms)
  const stalls = (name: string) => figures(name).map((r) => r.stallMs)
  ctx.roundRatio('catch-up-time-snapshot-vs-replay', times('snapshot'), times('replay'), 'replay', {
    invert: true,
  })
  ctx.roundRatio('catch-up-stall-snapshot-vs-replay', stalls('snapshot'), stalls('replay'), 'replay', {
    invert: true,
  })
  ctx.roundRatio(
    'leader-stall-slices-vs-one-turn',
    stalls('image-in-slices'),
    stalls('image-one-turn'),
    'one-turn',
    {
      invert: true,
    },
  )
}

export default defineSuite({
  description:
    "A new shard replica's catch-up (documents with 64-d vectors): the log replayed (every document indexed again) vs the leader's image restored; the leader's image in one turn vs in slices; time and the longest event-loop stall",
  async run(ctx) {
    ctx.record({ name: 'load-average-start', metric: 'load', value: loadavg()[0] ?? 0, unit: 'runnable' })
    const root = await mkdtemp(path.join(tmpdir(), 'shoal-catch-up-bench-'))
    try {
      await catchUp(ctx, root)
    } finally {
      await rm(root, { recursive: true, force: true })
      ctx.record({ name: 'load-average-end', metric: 'load', value: loadavg()[0] ?? 0, unit: 'runnable' })
    }
  },
})

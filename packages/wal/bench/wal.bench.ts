import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { defineSuite, type SuiteContext } from '@shoal/bench'
import { ClassicLevel } from 'classic-level'
import { Wal } from '../src/index.ts'

/**
 * Durable appends and replay. Shoal's WAL next to the stores a user would
 * pick instead, in the same run: LevelDB (classic-level) with `{ sync: true }`
 * puts, and plain `fs` append + fdatasync per record. The disk's own ceiling
 * (4 KiB write+fdatasync rate, sequential write+fdatasync bandwidth) is
 * measured first, in the same run, so the ratios are against this disk now.
 */
const MiB = 1024 * 1024

type Appender = (payload: Uint8Array, key: number) => Promise<unknown>

/** One measured call: `concurrency` appenders each append `perAppender` records one after another. */
function round(append: Appender, payload: Uint8Array, concurrency: number, perAppender: number) {
  let key = 0
  return () =>
    Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = 0; i < perAppender; i++) await append(payload, key++)
      }),
    )
}

/**
 * Sequential write+fdatasync bandwidth in MB/s: writes of 1 MiB and of 8 MiB, each followed by
 * fdatasync; the higher figure is the ceiling (a shared virtual disk does not always favour the
 * larger writes).
 */
async function measureSequential(
  ctx: SuiteContext,
  dir: string,
  name: string,
): Promise<{ best: number; oneMiB: number }> {
  const file = await open(path.join(dir, 'raw-seq'), 'w')
  try {
    let best = 0
    let oneMiB = 0
    for (const mib of ctx.smoke ? [1] : [1, 8]) {
      const chunk = Buffer.alloc(mib * MiB, 7)
      let position = 0
      const task = `${name}-${mib}MiB`
      const measured = await ctx.measure(
        task,
        async () => {
          await file.write(chunk, 0, chunk.length, position)
          await file.datasync()
          position = (position + chunk.length) % (256 * MiB)
        },
        { peer: 'disk', timeMs: ctx.smoke ? 100 : 2000 },
      )
      const mbps = (measured.opsPerSecond * chunk.length) / 1e6
      ctx.record({ name: task, metric: 'throughput', value: mbps, unit: 'MB/s', peer: 'disk' })
      best = Math.max(best, mbps)
      if (mib === 1) oneMiB = mbps
    }
    ctx.record({ name, metric: 'throughput', value: best, unit: 'MB/s', peer: 'disk' })
    return { best, oneMiB }
  } finally {
    await file.close()
  }
}

/**
 * The same 1 MiB write+fdatasync, but each write extends a new file into blocks it never had
 * (what a log that only grows does): the filesystem allocates on every sync, and a
 * thin-provisioned virtual disk allocates on first write too. For reference only; the
 * ceiling above is the rewrite figure.
 */
async function measureFreshSequential(ctx: SuiteContext, dir: string): Promise<number> {
  const name = 'raw-seq-write-fdatasync-new-blocks-1MiB'
  let serial = 0
  let file = await open(path.join(dir, `raw-fresh-${serial}`), 'w')
  let position = 0
  const chunk = Buffer.alloc(MiB, 7)
  try {
    const measured = await ctx.measure(
      name,
      async () => {
        if (position >= 256 * MiB) {
          await file.close()
          await rm(path.join(dir, `raw-fresh-${serial}`), { force: true })
          file = await open(path.join(dir, `raw-fresh-${++serial}`), 'w')
          position = 0
        }
        await file.write(chunk, 0, chunk.length, position)
        await file.datasync()
        position += chunk.length
      },
      { peer: 'disk', timeMs: ctx.smoke ? 100 : 2000 },
    )
    const mbps = (measured.opsPerSecond * chunk.length) / 1e6
    ctx.record({ name, metric: 'throughput', value: mbps, unit: 'MB/s', peer: 'disk' })
    return mbps
  } finally {
    await file.close()
    await rm(path.join(dir, `raw-fresh-${serial}`), { force: true })
  }
}

async function measureRawDisk(ctx: SuiteContext, dir: string) {
  const file = await open(path.join(dir, 'raw'), 'w')
  try {
    const page = Buffer.alloc(4096, 7)
    let position = 0
    const small = await ctx.measure(
      'raw-4KiB-write-fdatasync',
      async () => {
        await file.write(page, 0, page.length, position)
        await file.datasync()
        position = (position + page.length) % (64 * MiB)
      },
      { peer: 'disk' },
    )
    const seq = await measureSequential(ctx, dir, 'raw-seq-write-fdatasync')
    await measureFreshSequential(ctx, dir)
    ctx.log(
      `disk: ${Math.round(small.opsPerSecond)} 4KiB write+fdatasync/s, ${seq.best.toFixed(0)} MB/s sequential`,
    )
    return { seq }
  } finally {
    await file.close()
  }
}

async function measureAppends(ctx: SuiteContext, dir: string, size: number, concurrency: number) {
  const payload = new Uint8Array(size).fill(0x5a)
  const perAppender = ctx.smoke ? 2 : concurrency === 1 ? 16 : 8
  const ops = concurrency * perAppender
  const label = `${size === 4096 ? '4KiB' : `${size}B`}-${concurrency}`
  const options = { opsPerCall: ops, timeMs: ctx.smoke ? 100 : 1500 }

  const wal = await Wal.open(path.join(dir, `wal-${label}`))
  const ours = await ctx.measure(
    `shoal-append-${label}`,
    round((p) => wal.append(p), payload, concurrency, perAppender),
    options,
  )
  await wal.close()
  let preallocated: number | undefined
  let steady: number | undefined
  if (concurrency === 256) {
    // The same into zero-filled segments prepared ahead (preallocate: true): appends overwrite
    // allocated blocks instead of extending the file.
    const pre = await Wal.open(path.join(dir, `wal-pre-${label}`), {
      preallocate: true,
      segmentBytes: ctx.smoke ? 4 * MiB : 64 * MiB,
    })
    const measured = await ctx.measure(
      `shoal-append-${label}-preallocated`,
      round((p) => pre.append(p), payload, concurrency, perAppender),
      options,
    )
    preallocated = (measured.opsPerSecond * size) / 1e6
    ctx.record({
      name: `shoal-append-${label}-preallocated`,
      metric: 'throughput',
      value: preallocated,
      unit: 'MB/s',
    })
    await pre.close()
    steady = await measureSteady(ctx, dir, label, payload, concurrency, perAppender, options)
    // The same through O_DSYNC writes (syncMethod 'dsync'), for comparison.
    const dsync = await Wal.open(path.join(dir, `wal-dsync-${label}`), { syncMethod: 'dsync' })
    await ctx.measure(
      `shoal-append-${label}-dsync`,
      round((p) => dsync.append(p), payload, concurrency, perAppender),
      options,
    )
    await dsync.close()
  }

  const db = new ClassicLevel<Uint8Array, Uint8Array>(path.join(dir, `leveldb-${label}`), {
    keyEncoding: 'view',
    valueEncoding: 'view',
  })
  await db.open()
  const keyBytes = new Uint8Array(8)
  const keyView = new DataView(keyBytes.buffer)
  const level = await ctx.measure(
    `leveldb-put-${label}`,
    round(
      (p, key) => {
        keyView.setFloat64(0, key)
        return db.put(keyBytes.slice(), p, { sync: true })
      },
      payload,
      concurrency,
      perAppender,
    ),
    { ...options, peer: 'classic-level' },
  )
  await db.close()

  const file = await open(path.join(dir, `fs-${label}`), 'a')
  const plain = await ctx.measure(
    `fs-append-fdatasync-${label}`,
    round(
      async (p) => {
        await file.write(p)
        await file.datasync()
      },
      payload,
      concurrency,
      perAppender,
    ),
    { ...options, peer: 'fs' },
  )
  await file.close()

  for (const [name, figure, peer] of [
    [`shoal-append-${label}`, ours, undefined],
    [`leveldb-put-${label}`, level, 'classic-level'],
    [`fs-append-fdatasync-${label}`, plain, 'fs'],
  ] as const) {
    const mbps = (figure.opsPerSecond * size) / 1e6
    ctx.record({
      name,
      metric: 'throughput',
      value: mbps,
      unit: 'MB/s',
      ...(peer === undefined ? {} : { peer }),
    })
  }
  ctx.ratio(`append-${label}-ratio-vs-leveldb`, ours.opsPerSecond, level.opsPerSecond, 'classic-level')
  ctx.ratio(`append-${label}-ratio-vs-fs`, ours.opsPerSecond, plain.opsPerSecond, 'fs')
  return { opsPerSecond: ours.opsPerSecond, mbps: (ours.opsPerSecond * size) / 1e6, preallocated, steady }
}

/**
 * Steady state: the log is compacted behind as it grows (as a Raft group does after each
 * snapshot), keeping about two segments, so later segments reuse the compacted files
 * (`recycleSegments`, on by default) instead of allocating new blocks. Returns MB/s.
 */
async function measureSteady(
  ctx: SuiteContext,
  dir: string,
  label: string,
  payload: Uint8Array,
  concurrency: number,
  perAppender: number,
  options: { opsPerCall: number; timeMs: number },
): Promise<number> {
  const segmentBytes = ctx.smoke ? 4 * MiB : 64 * MiB
  const keepRecords = Math.floor((2 * segmentBytes) / (payload.length + 16))
  const wal = await Wal.open(path.join(dir, `wal-steady-${label}`), { segmentBytes })
  const append = round((p) => wal.append(p), payload, concurrency, perAppender)
  const compact = async () => {
    const before = wal.lastIndex - keepRecords
    if (before > wal.firstIndex) await wal.compactBefore(before)
  }
  // Reach the steady state first: a few segments written and compacted, files kept for reuse.
  while (wal.segmentNames.length < 4) await append()
  await compact()
  const name = `shoal-append-${label}-steady`
  const measured = await ctx.measure(
    name,
    async () => {
      await append()
      await compact()
    },
    options,
  )
  await wal.close()
  const mbps = (measured.opsPerSecond * payload.length) / 1e6
  ctx.record({ name, metric: 'throughput', value: mbps, unit: 'MB/s' })
  return mbps
}

/** Writes `totalBytes` of `size`-byte records, then times reopen + reading everything back, several times. */
async function measureReplay(ctx: SuiteContext, dir: string, size: number, totalBytes: number) {
  const walDir = path.join(dir, `replay-${size}`)
  // Written with fdatasync per 8 MiB batch, so no writeback of the setup runs during the replays.
  const writer = await Wal.open(walDir)
  const payload = new Uint8Array(size).fill(0x33)
  const perBatch = Math.max(1, Math.floor((8 * MiB) / size))
  const records = Math.floor(totalBytes / size)
  for (let written = 0; written < records; written += perBatch) {
    await writer.appendBatch(Array.from({ length: Math.min(perBatch, records - written) }, () => payload))
  }
  await writer.close()
  const label = size === 4096 ? '4KiB' : `${size}B`
  let fullMedian = 0
  for (const verify of ['full', 'tail'] as const) {
    const rates: number[] = []
    const cpuRates: number[] = []
    for (let run = 0; run < (ctx.smoke ? 1 : 5); run++) {
      const cpuBefore = process.cpuUsage()
      const started = performance.now()
      const wal = await Wal.open(walDir, { verify })
      let count = 0
      let bytes = 0
      // Replay the way a state machine does: consume each batch before asking for the next.
      for await (const batch of wal.readBatches(wal.firstIndex, undefined, { reuseBuffers: true })) {
        count += batch.length
        for (const record of batch) bytes += record.payload.length
      }
      const seconds = (performance.now() - started) / 1000
      const cpu = process.cpuUsage(cpuBefore)
      cpuRates.push(bytes / 1e9 / ((cpu.user + cpu.system) / 1e6))
      await wal.close()
      if (count !== records) throw new Error(`replay read ${count} records, expected ${records}`)
      rates.push(bytes / 1e9 / seconds)
    }
    rates.sort((a, b) => a - b)
    const median = rates[Math.floor(rates.length / 2)]!
    const name = verify === 'full' ? `replay-${label}-GBps` : `replay-${label}-tail-verify-GBps`
    ctx.record({ name, metric: 'throughput', value: median, unit: 'GB/s' })
    // Bytes replayed per second of this process's CPU time (main thread and I/O threads): what
    // the replay achieves when it has the CPU to itself, apart from other load on the machine.
    cpuRates.sort((a, b) => a - b)
    const cpuMedian = cpuRates[Math.floor(cpuRates.length / 2)]!
    ctx.record({
      name: `${name}-per-cpu-second`,
      metric: 'throughput-per-cpu',
      value: cpuMedian,
      unit: 'GB/s',
    })
    ctx.log(
      `${name}: ${median.toFixed(2)} GB/s (median of ${rates.length}, ${(totalBytes / MiB).toFixed(0)} MiB)`,
    )
    if (verify === 'full') fullMedian = median
  }
  await rm(walDir, { recursive: true, force: true })
  return fullMedian
}

export default defineSuite({
  description:
    'WAL durable appends (1/16/256 appenders, 256 B and 4 KiB) and replay vs classic-level sync puts and fs append+fdatasync, with the raw disk ceiling',
  async run(ctx) {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-wal-bench-'))
    try {
      const { seq } = await measureRawDisk(ctx, dir)
      const results = new Map<
        string,
        { opsPerSecond: number; mbps: number; preallocated: number | undefined; steady: number | undefined }
      >()
      let seqLate = { best: 0, oneMiB: 0 }
      for (const size of [256, 4096]) {
        for (const concurrency of [1, 16, 256]) {
          if (size === 4096 && concurrency === 256) {
            // The disk is shared and its bandwidth drifts: measure it again right before the
            // large appends, and compare against the higher of the two figures.
            seqLate = await measureSequential(ctx, dir, 'raw-seq-write-fdatasync-again')
          }
          results.set(`${size}-${concurrency}`, await measureAppends(ctx, dir, size, concurrency))
        }
      }
      const small = results.get('256-256')!
      ctx.record({
        name: 'append-256B-256-durable',
        metric: 'throughput',
        value: small.opsPerSecond,
        unit: 'appends/s',
      })
      const large = results.get('4096-256')!
      const ceilingMBps = Math.max(seq.best, seqLate.best)
      // 256 appenders of 4 KiB never have more than ~1 MiB outstanding: the disk's rate for
      // 1 MiB write+fdatasync calls bounds what any log can reach in this cell.
      const oneMiBMBps = Math.max(seq.oneMiB, seqLate.oneMiB)
      const fraction = large.mbps / ceilingMBps
      ctx.record({
        name: 'append-4KiB-fraction-of-seq-bw',
        metric: 'ratio',
        value: fraction,
        unit: 'x',
        peer: 'disk',
        ratio: fraction,
      })
      ctx.log(
        `4 KiB x 256 appenders: ${large.mbps.toFixed(0)} MB/s = ${(fraction * 100).toFixed(0)}% of sequential`,
      )
      const steadyFraction = (large.steady ?? 0) / ceilingMBps
      ctx.record({
        name: 'append-4KiB-steady-fraction-of-seq-bw',
        metric: 'ratio',
        value: steadyFraction,
        unit: 'x',
        peer: 'disk',
        ratio: steadyFraction,
      })
      ctx.log(
        `4 KiB x 256 appenders, steady state (compacted behind, segment files reused): ${(large.steady ?? 0).toFixed(0)} MB/s = ${(steadyFraction * 100).toFixed(0)}% of sequential`,
      )
      const steadyOfOneMiB = (large.steady ?? 0) / oneMiBMBps
      ctx.record({
        name: 'append-4KiB-steady-fraction-of-1MiB-write-rate',
        metric: 'ratio',
        value: steadyOfOneMiB,
        unit: 'x',
        peer: 'disk',
        ratio: steadyOfOneMiB,
      })
      ctx.log(
        `4 KiB x 256 appenders, steady state: ${(steadyOfOneMiB * 100).toFixed(0)}% of the disk's 1 MiB write+fdatasync rate (${oneMiBMBps.toFixed(0)} MB/s)`,
      )
      const preFraction = (large.preallocated ?? 0) / ceilingMBps
      ctx.record({
        name: 'append-4KiB-preallocated-fraction-of-seq-bw',
        metric: 'ratio',
        value: preFraction,
        unit: 'x',
        peer: 'disk',
        ratio: preFraction,
      })
      ctx.log(`4 KiB x 256 appenders, preallocated: ${(preFraction * 100).toFixed(0)}% of sequential`)
      const replay = await measureReplay(ctx, dir, 4096, ctx.smoke ? 4 * MiB : 1024 * MiB)
      // The headline figure: 4 KiB records, default options (every checksum verified once).
      ctx.record({ name: 'replay-GBps', metric: 'throughput', value: replay, unit: 'GB/s' })
      await measureReplay(ctx, dir, 256, ctx.smoke ? 2 * MiB : 256 * MiB)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  },
})

import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { defineSuite, type SuiteContext, spreadOf } from '@shoal/bench'
import { Wal } from '../src/index.ts'
import { type CellFigures, MiB, measureCell } from './cell.ts'

/**
 * Durable appends and replay. Shoal's WAL next to the stores a user would
 * pick instead, in interleaved rounds (cell.ts): LevelDB (classic-level) with
 * single sync puts on libuv's default pool and on a pool raised to the
 * appender count, and with `batch()` of the outstanding records; plain `fs`
 * write + fdatasync per record and per batch (the ceiling). The disk's own
 * rates (4 KiB write+fdatasync, sequential write+fdatasync bandwidth) are
 * measured first for reference, and again inside the 4 KiB × 256 rounds,
 * where the bandwidth fractions are taken.
 */

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
    'WAL durable appends (1/16/256 appenders, 256 B and 4 KiB) and replay vs classic-level (single sync puts on 4 and on raised pool threads, batch()) and fs write+fdatasync (per record, per batch: the ceiling), interleaved rounds',
  peers: { npm: ['classic-level'] },
  async run(ctx) {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-wal-bench-'))
    try {
      await measureRawDisk(ctx, dir)
      const cells = new Map<string, CellFigures>()
      // A smoke run proves both code paths (up to 4 appenders; raised pool, variants, disk rounds).
      const grid = ctx.smoke
        ? [
            [256, 1],
            [4096, 256],
          ]
        : [256, 4096].flatMap((size) => [1, 16, 256].map((concurrency) => [size, concurrency]))
      for (const [size = 0, concurrency = 0] of grid) {
        cells.set(`${size}-${concurrency}`, await measureCell(ctx, dir, size, concurrency))
      }
      const small = cells.get('256-256')
      const smallSpread = small === undefined ? undefined : spreadOf(small.perRound)
      if (smallSpread !== undefined)
        ctx.record({
          name: 'append-256B-256-durable',
          metric: 'throughput',
          value: smallSpread.median,
          unit: 'appends/s',
          rounds: smallSpread.rounds,
          min: smallSpread.min,
          max: smallSpread.max,
        })
      // The 4 KiB × 256 cell against the disk's sequential bandwidth measured in the same rounds:
      // the ceiling is the better of 1 MiB and 8 MiB writes in each round. 256 appenders of 4 KiB
      // never have more than ~1 MiB outstanding, so the 1 MiB rate bounds any log in this cell.
      const large = cells.get('4096-256')!
      const ours = large.perRound.map((ops) => (ops * 4096) / 1e6)
      const ceiling = large.seq1MiB!.map((one, i) => Math.max(one, large.seq8MiB![i]!))
      ctx.roundRatio('append-4KiB-fraction-of-seq-bw', ours, ceiling, 'disk')
      ctx.roundRatio('append-4KiB-steady-fraction-of-seq-bw', large.steady!, ceiling, 'disk')
      ctx.roundRatio('append-4KiB-steady-fraction-of-1MiB-write-rate', large.steady!, large.seq1MiB!, 'disk')
      ctx.roundRatio('append-4KiB-preallocated-fraction-of-seq-bw', large.preallocated!, ceiling, 'disk')
      const replay = await measureReplay(ctx, dir, 4096, ctx.smoke ? 4 * MiB : 1024 * MiB)
      // The headline figure: 4 KiB records, default options (every checksum verified once).
      ctx.record({ name: 'replay-GBps', metric: 'throughput', value: replay, unit: 'GB/s' })
      await measureReplay(ctx, dir, 256, ctx.smoke ? 2 * MiB : 256 * MiB)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  },
})

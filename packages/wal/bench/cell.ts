import { type FileHandle, open, rm } from 'node:fs/promises'
import path from 'node:path'
import type { Contender, SuiteContext } from '@shoal/bench'
import { Wal, type WalOptions } from '../src/index.ts'
import {
  type LevelChild,
  levelBatches,
  levelPuts,
  openLevel,
  round,
  startLevelChild,
} from './leveldb-peer.ts'

/**
 * One cell of the wal suite (payload size × appenders): Shoal's WAL and every peer measured
 * in interleaved rounds. Peers: LevelDB with single sync puts on libuv's default 4 threads
 * (the figure the suite used to quote alone), the same with `UV_THREADPOOL_SIZE` raised to the
 * appender count (so LevelDB's own group commit can see every writer), and with the
 * outstanding records handed over as one `batch()`; `fs` write+fdatasync per record, and one
 * write+fdatasync per batch of `concurrency` records (the ceiling for any group-committing log
 * at this batch size). Each side starts every round from an empty log or file.
 */
export const MiB = 1024 * 1024

export interface CellFigures {
  /** Per-round appends/s of the default WAL, and its median. */
  perRound: number[]
  opsPerSecond: number
  /** Per-round MB/s of the variants measured at 256 appenders. */
  preallocated?: number[]
  steady?: number[]
  /** Per-round MB/s of the disk's sequential write+fdatasync in 1 MiB and 8 MiB writes (4 KiB × 256). */
  seq1MiB?: number[]
  seq8MiB?: number[]
}

/** A file that starts empty in each round (appends never reuse blocks a previous round wrote). */
function freshFile(file: string) {
  let handle: FileHandle | undefined
  return {
    async reset() {
      await handle?.close()
      await rm(file, { force: true })
      handle = await open(file, 'a')
    },
    get handle(): FileHandle {
      if (handle === undefined) throw new Error(`${file} is not open`)
      return handle
    },
    close: async () => handle?.close(),
  }
}

export async function measureCell(
  ctx: SuiteContext,
  dir: string,
  size: number,
  concurrency: number,
): Promise<CellFigures> {
  const payload = new Uint8Array(size).fill(0x5a)
  const perAppender = ctx.smoke ? 2 : concurrency === 1 ? 16 : 8
  const opsPerCall = concurrency * perAppender
  const label = `${size === 4096 ? '4KiB' : `${size}B`}-${concurrency}`
  let serial = 0
  const fresh = () => path.join(dir, `${label}-${serial++}`)

  let wal: Wal | undefined
  let level: Awaited<ReturnType<typeof openLevel>> | undefined
  let levelBatch: Awaited<ReturnType<typeof openLevel>> | undefined
  const perRecord = freshFile(path.join(dir, `fs-${label}`))
  const perBatch = freshFile(path.join(dir, `fs-batch-${label}`))
  const batchBuffer = Buffer.alloc(concurrency * size, 0x5a)
  const contenders: Contender[] = [
    {
      name: `shoal-append-${label}`,
      setup: async () => {
        await wal?.close()
        wal = await Wal.open(fresh())
      },
      fn: round((p) => wal!.append(p), payload, concurrency, perAppender),
    },
    {
      name: `leveldb-put-${label}`,
      peer: 'classic-level: single sync puts, 4 pool threads',
      setup: async () => {
        await level?.close()
        level = await openLevel(fresh())
      },
      fn: () => levelPuts(level!, payload, concurrency, perAppender)(),
    },
    {
      name: `leveldb-batch-${label}`,
      peer: 'classic-level: batch() of the outstanding records',
      setup: async () => {
        await levelBatch?.close()
        levelBatch = await openLevel(fresh())
      },
      fn: () => levelBatches(levelBatch!, payload, concurrency, perAppender)(),
    },
    {
      name: `fs-append-fdatasync-${label}`,
      peer: 'fs: write+fdatasync per record',
      setup: () => perRecord.reset(),
      fn: round(
        async (p) => {
          await perRecord.handle.write(p)
          await perRecord.handle.datasync()
        },
        payload,
        concurrency,
        perAppender,
      ),
    },
    {
      name: `fs-batch-fdatasync-${label}`,
      peer: `fs: one write+fdatasync per ${concurrency} records (ceiling)`,
      setup: () => perBatch.reset(),
      fn: async () => {
        for (let step = 0; step < perAppender; step++) {
          await perBatch.handle.write(batchBuffer)
          await perBatch.handle.datasync()
        }
      },
    },
  ]
  let child: LevelChild | undefined
  if (concurrency > 4) {
    child = await startLevelChild({
      dir: fresh(),
      size,
      concurrency,
      perAppender,
      threads: concurrency,
      smoke: ctx.smoke,
      timeMs: ctx.smoke ? 20 : 400,
    })
    contenders.splice(2, 0, {
      name: `leveldb-put-uv${concurrency}-${label}`,
      peer: `classic-level: single sync puts, UV_THREADPOOL_SIZE=${concurrency}`,
      measured: () => child!.measure(),
    })
  }
  const variants = concurrency === 256 ? walVariants(ctx, dir, label, payload, concurrency, perAppender) : []
  for (const v of variants) contenders.push(v.contender)
  const disk = size === 4096 && concurrency === 256 ? diskSequential(dir) : []
  for (const d of disk) contenders.push(d.contender)

  const figures = await ctx.compare(`append-${label}`, contenders, { opsPerCall })
  await Promise.all([wal?.close(), level?.close(), levelBatch?.close(), perRecord.close(), perBatch.close()])
  await child?.close()
  for (const v of [...variants, ...disk]) await v.close()
  for (const c of contenders) {
    const f = figures.get(c.name)!
    const bytes = c.opsPerCall === undefined ? size : MiB
    ctx.record({
      name: c.name,
      metric: 'throughput',
      value: (f.opsPerSecond.median * bytes) / 1e6,
      unit: 'MB/s',
      rounds: f.opsPerSecond.rounds,
      min: (f.opsPerSecond.min * bytes) / 1e6,
      max: (f.opsPerSecond.max * bytes) / 1e6,
      ...(c.peer === undefined ? {} : { peer: c.peer }),
    })
  }
  const mbps = (name: string, bytes = size) => figures.get(name)!.perRound.map((ops) => (ops * bytes) / 1e6)
  const ours = figures.get(`shoal-append-${label}`)!
  const out: CellFigures = { perRound: ours.perRound, opsPerSecond: ours.opsPerSecond.median }
  if (variants.length > 0) {
    out.preallocated = mbps(`shoal-append-${label}-preallocated`)
    out.steady = mbps(`shoal-append-${label}-steady`)
  }
  if (disk.length > 0) {
    // opsPerCall counts MiB written, so ops/s is MiB/s.
    out.seq1MiB = mbps('raw-seq-write-fdatasync-1MiB-rounds', MiB)
    out.seq8MiB = mbps('raw-seq-write-fdatasync-8MiB-rounds', MiB)
  }
  return out
}

/** Shoal's WAL with non-default options, measured in the 256-appender cells' rounds. */
function walVariants(
  ctx: SuiteContext,
  dir: string,
  label: string,
  payload: Uint8Array,
  concurrency: number,
  perAppender: number,
) {
  const segmentBytes = ctx.smoke ? 4 * MiB : 64 * MiB
  const make = (suffix: string, options: WalOptions, compactBehind: boolean) => {
    let wal: Wal | undefined
    let serial = 0
    const keepRecords = Math.floor((2 * segmentBytes) / (payload.length + 16))
    const compact = async () => {
      const before = wal!.lastIndex - keepRecords
      if (before > wal!.firstIndex) await wal!.compactBefore(before)
    }
    const append = round((p) => wal!.append(p), payload, concurrency, perAppender)
    const contender: Contender = {
      name: `shoal-append-${label}-${suffix}`,
      ratio: false,
      setup: async () => {
        if (wal !== undefined && compactBehind) return
        await wal?.close()
        wal = await Wal.open(path.join(dir, `wal-${suffix}-${label}-${serial++}`), options)
        if (compactBehind) {
          // Reach the steady state first: a few segments written and compacted, files kept for reuse.
          while (wal.segmentNames.length < 4) await append()
          await compact()
        }
      },
      fn: compactBehind
        ? async () => {
            await append()
            await compact()
          }
        : append,
    }
    return { contender, close: async () => wal?.close() }
  }
  return [
    // Into zero-filled segments prepared ahead: appends overwrite allocated blocks.
    make('preallocated', { preallocate: true, segmentBytes }, false),
    // Steady state: compacted behind as it grows (as a Raft group does after each snapshot),
    // about two segments kept, so later segments reuse compacted files.
    make('steady', { segmentBytes }, true),
    // O_DSYNC writes instead of write + fdatasync.
    make('dsync', { syncMethod: 'dsync' }, false),
  ]
}

/** The disk's sequential write+fdatasync (rewriting one file) in 1 MiB and 8 MiB writes, as rounds. */
function diskSequential(dir: string) {
  return [1, 8].map((mib) => {
    const chunk = Buffer.alloc(mib * MiB, 7)
    let file: FileHandle | undefined
    let position = 0
    const contender: Contender = {
      name: `raw-seq-write-fdatasync-${mib}MiB-rounds`,
      peer: 'disk',
      ratio: false,
      opsPerCall: mib,
      setup: async () => {
        file ??= await open(path.join(dir, `raw-seq-rounds-${mib}`), 'w')
      },
      fn: async () => {
        await file!.write(chunk, 0, chunk.length, position)
        await file!.datasync()
        position = (position + chunk.length) % (256 * MiB)
      },
    }
    return { contender, close: async () => file?.close() }
  })
}

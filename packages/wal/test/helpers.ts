import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { SimFileSystem } from '@shoal/testkit/fs'
import type { FileSystem, Wal } from '../src/index.ts'

/** A fresh temporary directory, removed by the returned cleanup. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'shoal-wal-'))
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

export function payloadFor(index: number, size = 8 + (index % 23)): Uint8Array {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = (index * 31 + i * 7) & 0xff
  return bytes
}

export async function readAll(
  wal: Wal,
  from = wal.firstIndex,
): Promise<Array<{ index: number; payload: Uint8Array }>> {
  const out: Array<{ index: number; payload: Uint8Array }> = []
  for await (const record of wal.read(from))
    out.push({ index: record.index, payload: record.payload.slice() })
  return out
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * The simulated filesystem with slow fdatasyncs: each waits for `delay(serial)`
 * first, so that appends pile up and a second write starts while a sync runs.
 * Counts how many syncs overlap, and the writes attempted.
 */
export function slowSyncs(sim: SimFileSystem, delay: (serial: number) => Promise<void>) {
  const stats = { syncs: 0, inFlight: 0, maxInFlight: 0, writes: 0 }
  const fs: FileSystem = {
    mkdirp: (dir) => sim.mkdirp(dir),
    list: (dir) => sim.list(dir),
    openRead: (file) => sim.openRead(file),
    rename: (from, to) => sim.rename(from, to),
    remove: (file) => sim.remove(file),
    syncDir: (dir) => sim.syncDir(dir),
    async openWrite(file, options) {
      const inner = await sim.openWrite(file, options)
      return {
        size: () => inner.size(),
        read: (buffer, offset, length, position) => inner.read(buffer, offset, length, position),
        write: (buffer, offset, length, position) => {
          stats.writes++
          return inner.write(buffer, offset, length, position)
        },
        truncate: (length) => inner.truncate(length),
        close: () => inner.close(),
        async sync() {
          const serial = stats.syncs++
          stats.inFlight++
          stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight)
          try {
            await delay(serial)
            await inner.sync()
          } finally {
            stats.inFlight--
          }
        },
      }
    },
  }
  return { fs, stats }
}

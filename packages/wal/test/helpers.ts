import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Wal } from '../src/index.ts'

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

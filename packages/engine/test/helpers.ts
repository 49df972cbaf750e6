import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Engine, MemoryCommandLog, type OpenOptions } from '../src/index.ts'
import { referenceComponents } from './reference/cores.ts'

export async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'shoal-engine-'))
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}

/** An engine on an in-memory log and the plain-TypeScript reference cores. */
export async function referenceEngine(
  options: OpenOptions = {},
  log = new MemoryCommandLog(),
): Promise<{ engine: Engine; dir: string; log: MemoryCommandLog }> {
  const dir = await tempDir()
  const engine = await Engine.start(dir, options, { log, components: referenceComponents })
  return { engine, dir, log }
}

import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Rng, testSeed } from '@shoal/testkit/rng'
import { afterAll, describe, expect, it } from 'vitest'
import { open } from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

const SEED = testSeed(99)
const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/ingest-child.ts')
const BATCH = 25
const ROUNDS = 4

/** Runs the writer until a random moment, kills it with SIGKILL, returns the acknowledged batches. */
function runAndKill(dir: string, first: number, killAfterMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(first)], { stdio: ['ignore', 'pipe', 'pipe'] })
    const acked: number[] = []
    let buffered = ''
    let stderr = ''
    let timer: NodeJS.Timeout | undefined
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop()!
      for (const line of lines) {
        if (!line.startsWith('ack ')) continue
        acked.push(Number(line.slice(4)))
        // Start the kill clock at the first acknowledgement (the child is ingesting by then).
        timer ??= setTimeout(() => child.kill('SIGKILL'), killAfterMs)
      }
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on('exit', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer)
      if (signal === 'SIGKILL') resolve(acked)
      else reject(new Error(`writer exited with ${code}: ${stderr}`))
    })
  })
}

describe(`crash safety under kill -9 (SEED=${SEED})`, () => {
  const dirs: string[] = []
  afterAll(async () => {
    for (const dir of dirs) await removeDir(dir)
  })

  it('every acknowledged batch survives, and no batch is partial', async () => {
    const rng = new Rng(SEED)
    const dir = await tempDir()
    dirs.push(dir)
    const acknowledged = new Set<number>()
    let next = 0
    for (let round = 0; round < ROUNDS; round++) {
      const acked = await runAndKill(dir, next, rng.range(50, 700))
      for (const batch of acked) acknowledged.add(batch)
      const db = await open(dir, { sync: 'always' })
      const index = db.index('crash')
      const counts: Record<string, number> = {}
      for (const doc of index.getDocuments({ limit: 1_000_000, fields: ['batch'] }).results) {
        counts[String(doc.batch)] = (counts[String(doc.batch)] ?? 0) + 1
      }
      for (const batch of acknowledged) {
        expect(counts[String(batch)], `batch ${batch}`).toBe(BATCH)
        expect(index.search({ filter: `batch = ${batch}`, limit: 0 }).estimatedTotalHits).toBe(BATCH)
      }
      // Batches beyond the acknowledged ones may be present (durable before the ack was printed),
      // but only whole: a batch is one or two commands of whole documents.
      for (const [batch, count] of Object.entries(counts)) {
        expect([10, 15, BATCH], `batch ${batch} has ${count} documents`).toContain(count)
      }
      const present = Object.keys(counts).map(Number)
      next = Math.max(-1, ...present) + 1
      await db.close()
    }
    expect(acknowledged.size).toBeGreaterThan(0)
  }, 60_000)
})

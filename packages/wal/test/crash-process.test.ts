import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Rng, testSeed } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import { Wal } from '../src/index.ts'
import { crashPayload } from './fixtures/crash-payload.ts'
import { tempDir } from './helpers.ts'

const writerScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/crash-writer.ts')

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Runs the writer until `killAfterAcks` acknowledgements have been printed plus a random delay, then SIGKILLs it. */
async function runAndKill(dir: string, rng: Rng): Promise<Map<number, [number, number]>> {
  const child: ChildProcess = spawn(process.execPath, [writerScript, dir, '64', '65536'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const acked = new Map<number, [number, number]>()
  let buffered = ''
  let stderr = ''
  const killAfterAcks = rng.range(1, 3000)
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  )
  let killing = false
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString()
    const lines = buffered.split('\n')
    buffered = lines.pop()!
    for (const line of lines) {
      const [index, writer, sequence] = line.split(' ').map(Number)
      if (line.startsWith('ready')) continue
      acked.set(index!, [writer!, sequence!])
    }
    if (!killing && acked.size >= killAfterAcks) {
      killing = true
      setTimeout(() => child.kill('SIGKILL'), rng.int(20))
    }
  })
  // On a very slow machine, kill it anyway after a while: any moment is a fair crash point.
  const guard = setTimeout(() => child.kill('SIGKILL'), 8000)
  const signal = await exited
  clearTimeout(guard)
  if (signal !== 'SIGKILL') throw new Error(`the writer exited on its own: ${stderr}`)
  return acked
}

describe('crash test with a real child process (kill -9)', () => {
  it('keeps every acknowledged record present, intact and in order across many SIGKILLs', async () => {
    const rng = new Rng(testSeed(99))
    const { dir, cleanup } = await tempDir()
    const expected = new Map<number, [number, number]>()
    const started = performance.now()
    let rounds = 0
    try {
      while (rounds < 3 || (rounds < 12 && performance.now() - started < 10_000)) {
        const acked = await runAndKill(dir, rng)
        rounds++
        for (const [index, origin] of acked) expected.set(index, origin)
        const wal = await Wal.open(dir, { segmentBytes: 65536 })
        const maxAcked = Math.max(0, ...acked.keys())
        expect(wal.lastIndex).toBeGreaterThanOrEqual(maxAcked)
        let next = 1
        let checked = 0
        for await (const batch of wal.readBatches(1)) {
          for (const record of batch) {
            if (record.index !== next) expect(record.index).toBe(next)
            next++
            const origin = expected.get(record.index)
            if (origin === undefined) continue
            if (!sameBytes(record.payload, crashPayload(origin[0], origin[1]))) {
              expect.fail(`round ${rounds}: record ${record.index} differs from what was acknowledged`)
            }
            checked++
          }
        }
        // Earlier rounds' acknowledged records below this round's lastIndex are all still there.
        const missing = [...expected.keys()].filter((index) => index > wal.lastIndex)
        expect(missing).toEqual([])
        expect(checked).toBe(expected.size)
        await wal.close()
      }
    } finally {
      await cleanup()
    }
    console.log(`kill -9 rounds: ${rounds}, acknowledged records checked: ${expected.size}`)
    expect(rounds).toBeGreaterThanOrEqual(3)
  }, 60_000)
})

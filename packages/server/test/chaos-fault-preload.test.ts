import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { tempDir } from './harness/server-process.ts'

// The chaos harness's preload (harness/chaos-fault-preload.ts) in a real process: a clock rate
// paces the wall clock, `performance.now()` and timers; a step moves the wall clock only.

const PRELOAD = fileURLToPath(new URL('./harness/chaos-fault-preload.ts', import.meta.url))

// Run inside the preloaded process: waits for the control file's change to be seen, then
// measures each clock against `process.hrtime` (real time, left alone by the preload).
const PROBE = `
import { writeFileSync } from 'node:fs'
const file = process.env.SHOAL_CHAOS_FAULT_FILE
const realMs = () => Number(process.hrtime.bigint()) / 1e6
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const control = JSON.parse(process.argv[2])
let ticks = 0
const interval = setInterval(() => ticks++, 40)
writeFileSync(file, JSON.stringify(control))
await new Promise((resolve) => globalThis.setTimeout(resolve, 300))
const start = { real: realMs(), perf: performance.now(), wall: Date.now() }
ticks = 0
await sleep(1000)
const end = { real: realMs(), perf: performance.now(), wall: Date.now() }
clearInterval(interval)
console.log(JSON.stringify({
  timerRealMs: end.real - start.real,
  perfRate: (end.perf - start.perf) / (end.real - start.real),
  wallRate: (end.wall - start.wall) / (end.real - start.real),
  ticks,
  wholeMs: [0, 1, 2, 3].every(() => Number.isInteger(Date.now())),
  wallAtEnd: new Date().getTime(),
}))
`

interface Probe {
  timerRealMs: number
  perfRate: number
  wallRate: number
  ticks: number
  /** Whether \`Date.now()\` gave whole milliseconds, as it must. */
  wholeMs: boolean
  /** The process's wall clock (through \`new Date()\`) as it printed its result. */
  wallAtEnd: number
}

/** Runs the probe under `control`; `aheadMs`: its wall clock against this one's when it ended. */
async function probe(control: object): Promise<{ result: Probe; aheadMs: number }> {
  const scratch = await tempDir('shoal-preload-')
  try {
    const file = path.join(scratch.dir, 'faults.json')
    const script = path.join(scratch.dir, 'probe.mjs')
    writeFileSync(file, '{}')
    writeFileSync(script, PROBE)
    const child = spawn(process.execPath, ['--import', PRELOAD, script, JSON.stringify(control)], {
      env: { ...process.env, SHOAL_CHAOS_FAULT_FILE: file },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    const endedAt = Date.now()
    expect(code, output).toBe(0)
    const result = JSON.parse(output.trim().split('\n').at(-1) ?? '') as Probe
    return { result, aheadMs: result.wallAtEnd - endedAt }
  } finally {
    await scratch.remove()
  }
}

describe('the chaos fault preload', () => {
  it('runs a clock at 4× real time: wall clock, performance.now() and timers', async () => {
    const { result } = await probe({ clockRate: 4 })
    expect(result.perfRate).toBeCloseTo(4, 1)
    expect(result.wholeMs).toBe(true)
    expect(result.wallRate).toBeCloseTo(4, 1)
    // A 1 s timer set at 4× fires after 250 ms of real time (late on a busy machine, never early).
    expect(result.timerRealMs).toBeGreaterThanOrEqual(249)
    expect(result.timerRealMs).toBeLessThan(1000)
    // The 40 ms interval set before the change fires every 10 ms of real time from then on.
    expect(result.ticks).toBeGreaterThan(result.timerRealMs / 40)
  }, 30_000)

  it('runs a clock at 0.5× real time', async () => {
    const { result } = await probe({ clockRate: 0.5 })
    expect(result.perfRate).toBeCloseTo(0.5, 1)
    expect(result.wholeMs).toBe(true)
    expect(result.wallRate).toBeCloseTo(0.5, 1)
    expect(result.timerRealMs).toBeGreaterThanOrEqual(1999)
  }, 30_000)

  it('steps the wall clock alone: performance.now() and timers keep real time', async () => {
    const { result, aheadMs } = await probe({ clockOffsetMs: 120_000 })
    // Less the time between its last reading and this process seeing it exit.
    expect(aheadMs).toBeGreaterThan(115_000)
    expect(aheadMs).toBeLessThanOrEqual(120_000)
    expect(result.perfRate).toBeCloseTo(1, 1)
    expect(result.wallRate).toBeCloseTo(1, 1)
    expect(result.timerRealMs).toBeGreaterThanOrEqual(999)
  }, 30_000)
})

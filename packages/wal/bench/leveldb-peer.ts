/**
 * The LevelDB (classic-level) sides of the wal suite. classic-level runs each
 * `put` on libuv's thread pool, 4 threads unless `UV_THREADPOOL_SIZE` says
 * otherwise, and the pool's size is fixed when a process first uses it, so the
 * raised-pool side runs in a child process started with the variable set
 * (this file, run as a script). The child answers one line per `run` line on
 * stdin with one measurement as JSON, so its rounds interleave with the
 * parent's.
 */
import { spawn } from 'node:child_process'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { type Measurement, measure } from '@shoal/bench'
import { ClassicLevel } from 'classic-level'

export type Appender = (payload: Uint8Array, key: number) => Promise<unknown>

/** One measured call: `concurrency` appenders each append `perAppender` records one after another. */
export function round(append: Appender, payload: Uint8Array, concurrency: number, perAppender: number) {
  let key = 0
  return () =>
    Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = 0; i < perAppender; i++) await append(payload, key++)
      }),
    )
}

export async function openLevel(dir: string): Promise<ClassicLevel<Uint8Array, Uint8Array>> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  return db
}

function keyOf(key: number): Uint8Array {
  const bytes = new Uint8Array(8)
  new DataView(bytes.buffer).setFloat64(0, key)
  return bytes
}

/** Single `put(…, { sync: true })` per record, `concurrency` callers at once. */
export function levelPuts(
  db: ClassicLevel<Uint8Array, Uint8Array>,
  payload: Uint8Array,
  concurrency: number,
  perAppender: number,
) {
  return round((p, key) => db.put(keyOf(key), p, { sync: true }), payload, concurrency, perAppender)
}

/**
 * The same records handed to LevelDB already grouped: each step writes the `concurrency`
 * records that are outstanding together as one `batch(…, { sync: true })`, the grouping a
 * group-committing log forms by itself.
 */
export function levelBatches(
  db: ClassicLevel<Uint8Array, Uint8Array>,
  payload: Uint8Array,
  concurrency: number,
  perAppender: number,
) {
  let key = 0
  return async () => {
    for (let step = 0; step < perAppender; step++) {
      const ops = Array.from({ length: concurrency }, () => ({
        type: 'put' as const,
        key: keyOf(key++),
        value: payload,
      }))
      await db.batch(ops, { sync: true })
    }
  }
}

export interface LevelChild {
  measure(): Promise<Measurement>
  close(): Promise<void>
}

/** Starts this file as a child with `UV_THREADPOOL_SIZE=threads` doing single sync puts. */
export async function startLevelChild(options: {
  dir: string
  size: number
  concurrency: number
  perAppender: number
  threads: number
  smoke: boolean
  timeMs: number
}): Promise<LevelChild> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), JSON.stringify(options)], {
    env: { ...process.env, UV_THREADPOOL_SIZE: String(options.threads) },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const next = async (): Promise<string> => {
    const line = await lines.next()
    if (line.done === true) throw new Error('the LevelDB child exited early')
    return line.value
  }
  if ((await next()) !== 'ready') throw new Error('the LevelDB child did not start')
  return {
    async measure() {
      child.stdin.write('run\n')
      return JSON.parse(await next()) as Measurement
    },
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve())
        child.stdin.end()
      }),
  }
}

async function childMain(raw: string): Promise<void> {
  const options = JSON.parse(raw) as Parameters<typeof startLevelChild>[0]
  const db = await openLevel(path.join(options.dir))
  const payload = new Uint8Array(options.size).fill(0x5a)
  const fn = levelPuts(db, payload, options.concurrency, options.perAppender)
  process.stdout.write('ready\n')
  for await (const line of createInterface({ input: process.stdin })) {
    if (line !== 'run') continue
    const m = await measure('leveldb-put-uv', fn, options.smoke, {
      timeMs: options.timeMs,
      iterations: options.smoke ? 1 : 5,
      opsPerCall: options.concurrency * options.perAppender,
    })
    process.stdout.write(`${JSON.stringify(m)}\n`)
  }
  await db.close()
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  childMain(process.argv[2] ?? '{}').catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = 1
  })
}

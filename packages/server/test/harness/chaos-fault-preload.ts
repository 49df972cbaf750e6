/**
 * Node-level faults for the chaos harness's `shoal` processes, loaded with
 * `node --import` by `ShoalMetaSystem` only (never part of the server): a
 * wall clock stepped by an offset, and fsyncs that fail with EIO.
 *
 * The harness writes the control file named by `SHOAL_CHAOS_FAULT_FILE`
 * (JSON `{ clockOffsetMs, fsyncFailures }`); this module polls it every
 * 50 ms. `clockOffsetMs` shifts `Date.now()` and `new Date()` (the wall
 * clock: task dates, SWIM packet ages, metadata timestamps, grace periods);
 * monotonic clocks (`performance.now()`, `process.hrtime`) and timers are
 * left alone, as a stepped wall clock leaves them. Each increment of
 * `fsyncFailures` makes the next fsync or fdatasync of the process (any
 * file: Raft WAL, snapshots, task log) fail with EIO instead of syncing.
 */
import fs from 'node:fs'
import { open } from 'node:fs/promises'
import { syncBuiltinESMExports } from 'node:module'

const controlFile = process.env.SHOAL_CHAOS_FAULT_FILE
if (controlFile !== undefined) await install(controlFile)

interface Control {
  clockOffsetMs?: number
  fsyncFailures?: number
}

async function install(file: string): Promise<void> {
  let offsetMs = 0
  let failuresSeen: number | null = null
  let armed = 0
  const reload = () => {
    let control: Control
    try {
      control = JSON.parse(fs.readFileSync(file, 'utf8')) as Control
    } catch {
      return
    }
    offsetMs = control.clockOffsetMs ?? 0
    const failures = control.fsyncFailures ?? 0
    // Failures asked for before this process started are not for it.
    if (failuresSeen !== null && failures > failuresSeen) armed += failures - failuresSeen
    failuresSeen = failures
  }
  reload()
  fs.watchFile(file, { interval: 50, persistent: false }, reload)

  const RealDate = Date
  const realNow = RealDate.now.bind(RealDate)
  RealDate.now = () => realNow() + offsetMs
  globalThis.Date = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      return Reflect.construct(target, args.length === 0 ? [realNow() + offsetMs] : args, newTarget)
    },
    apply() {
      return new RealDate(realNow() + offsetMs).toString()
    },
  })

  const eio = (syscall: string) =>
    Object.assign(new Error(`EIO: i/o error, ${syscall} (injected)`), { code: 'EIO', errno: -5, syscall })
  const take = (): boolean => {
    if (armed === 0) return false
    armed--
    return true
  }
  for (const name of ['fsync', 'fdatasync'] as const) {
    const real = fs[name]
    fs[name] = ((fd: number, callback: (error: Error | null) => void) => {
      if (take()) process.nextTick(callback, eio(name))
      else real(fd, callback)
    }) as typeof real
    const sync = `${name}Sync` as 'fsyncSync' | 'fdatasyncSync'
    const realSync = fs[sync]
    fs[sync] = (fd: number) => {
      if (take()) throw eio(name)
      realSync(fd)
    }
  }
  syncBuiltinESMExports()
  // FileHandle's methods live on a prototype reached only through an open handle.
  const handle = await open(file, 'r')
  const proto = Object.getPrototypeOf(handle) as {
    sync: () => Promise<void>
    datasync: () => Promise<void>
  }
  await handle.close()
  for (const [method, syscall] of [
    ['sync', 'fsync'],
    ['datasync', 'fdatasync'],
  ] as const) {
    const real = proto[method]
    proto[method] = function (this: unknown) {
      if (take()) return Promise.reject(eio(syscall))
      return real.call(this)
    }
  }
}

/**
 * Node-level faults for the chaos harness's `shoal` processes, loaded with
 * `node --import` by `ShoalMetaSystem` only (never part of the server): a
 * wall clock stepped by an offset, a clock running fast or slow, and fsyncs
 * that fail with EIO.
 *
 * The harness writes the control file named by `SHOAL_CHAOS_FAULT_FILE`
 * (JSON `{ clockOffsetMs, clockRate, fsyncFailures }`); this module polls it
 * every 50 ms. `clockOffsetMs` shifts `Date.now()` and `new Date()` (the wall
 * clock: task dates, SWIM packet ages, metadata timestamps, grace periods);
 * monotonic clocks and timers are left alone, as a stepped wall clock leaves
 * them. `clockRate` is the rate of the process's clock against real time, as
 * a drifting oscillator has it: the wall clock and `performance.now()` advance
 * at that rate, and timers set afterwards fire after their delay divided by
 * it; repeating timers (Raft ticks, the SWIM loop, the controller) take a new
 * rate at once, while a one-shot timer keeps the delay it was set with.
 * `process.hrtime` and `node:timers/promises` keep real time. Each increment
 * of `fsyncFailures` makes the next fsync or fdatasync of the process (any
 * file: Raft WAL, snapshots, task log) fail with EIO instead of syncing.
 */
import fs from 'node:fs'
import { open } from 'node:fs/promises'
import { syncBuiltinESMExports } from 'node:module'
import timers from 'node:timers'

const controlFile = process.env.SHOAL_CHAOS_FAULT_FILE
if (controlFile !== undefined) await install(controlFile)

interface Control {
  clockOffsetMs?: number
  clockRate?: number
  fsyncFailures?: number
}

/** The process's clock at a rate against real time, read as `performance.now()` is. */
interface DriftingClock {
  /** Milliseconds on the drifting monotonic clock. */
  now(): number
  /** How far the drifting clock has run ahead of real time (negative: behind), in ms. */
  driftMs(): number
  rate(): number
  setRate(rate: number): void
}

function driftingClock(realNow: () => number): DriftingClock {
  let rate = 1
  let anchorRealMs = realNow()
  let anchorMs = anchorRealMs
  const now = () => anchorMs + (realNow() - anchorRealMs) * rate
  return {
    now,
    driftMs: () => now() - realNow(),
    rate: () => rate,
    setRate(next) {
      // Re-anchored, so the clock never jumps: only its pace changes.
      anchorMs = now()
      anchorRealMs = realNow()
      rate = next
    },
  }
}

/** Timers scaled by the clock's rate; repeating ones re-armed when the rate changes. */
function scaleTimers(clock: DriftingClock): { rateChanged(): void } {
  const realSetTimeout = globalThis.setTimeout
  const realSetInterval = globalThis.setInterval
  const realClearTimeout = globalThis.clearTimeout
  const realClearInterval = globalThis.clearInterval
  // Node's Timeout: `_repeat` and `_idleTimeout` are the period `refresh()` re-arms with.
  type Repeating = NodeJS.Timeout & { _repeat: number | null; _idleTimeout: number; _destroyed: boolean }
  const intervals = new Map<Repeating, number>()
  const scaled = (delay: unknown) => (Number(delay) || 0) / clock.rate()
  const setTimeoutScaled = ((callback: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) =>
    realSetTimeout(callback, scaled(delay), ...args)) as typeof setTimeout
  Object.assign(setTimeoutScaled, realSetTimeout)
  const setIntervalScaled = ((callback: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) => {
    const timer = realSetInterval(callback, scaled(delay), ...args) as Repeating
    intervals.set(timer, Number(delay) || 0)
    return timer
  }) as typeof setInterval
  const forget = (timer: unknown) => {
    if (typeof timer === 'object' && timer !== null) intervals.delete(timer as Repeating)
  }
  const clearTimeoutTracked = ((timer) => {
    forget(timer)
    realClearTimeout(timer)
  }) as typeof clearTimeout
  const clearIntervalTracked = ((timer) => {
    forget(timer)
    realClearInterval(timer)
  }) as typeof clearInterval
  for (const target of [globalThis, timers] as { setTimeout: unknown }[])
    Object.assign(target, {
      setTimeout: setTimeoutScaled,
      setInterval: setIntervalScaled,
      clearTimeout: clearTimeoutTracked,
      clearInterval: clearIntervalTracked,
    })
  return {
    rateChanged() {
      for (const [timer, periodMs] of intervals) {
        if (timer._destroyed) {
          intervals.delete(timer)
          continue
        }
        const next = Math.max(1, periodMs / clock.rate())
        timer._repeat = next
        timer._idleTimeout = next
        timer.refresh()
      }
    },
  }
}

async function install(file: string): Promise<void> {
  let offsetMs = 0
  const clock = driftingClock(performance.now.bind(performance))
  const scaledTimers = scaleTimers(clock)
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
    const rate = control.clockRate ?? 1
    if (rate > 0 && rate !== clock.rate()) {
      clock.setRate(rate)
      scaledTimers.rateChanged()
    }
    const failures = control.fsyncFailures ?? 0
    // Failures asked for before this process started are not for it.
    if (failuresSeen !== null && failures > failuresSeen) armed += failures - failuresSeen
    failuresSeen = failures
  }
  reload()
  fs.watchFile(file, { interval: 50, persistent: false }, reload)

  const RealDate = Date
  const realNow = RealDate.now.bind(RealDate)
  // The wall clock: real time, stepped by the offset, plus what the drifting clock gained or lost,
  // in whole milliseconds as `Date.now()` always is (libraries convert it to a BigInt).
  const wallNow = () => realNow() + offsetMs + Math.round(clock.driftMs())
  RealDate.now = wallNow
  globalThis.Date = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      return Reflect.construct(target, args.length === 0 ? [wallNow()] : args, newTarget)
    },
    apply() {
      return new RealDate(wallNow()).toString()
    },
  })
  Object.defineProperty(performance, 'now', { value: clock.now, configurable: true, writable: true })

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

import { monitorEventLoopDelay } from 'node:perf_hooks'

/**
 * How long this thread's event loop is held, for tests that assert it never freezes. A timer
 * ticks every `intervalMs`; a stretch between two ticks is a hold. Each hold is measured twice:
 * in wall time (the event-loop delay, which on a loaded machine also counts the waits for a
 * core) and in this thread's CPU time (what the thread itself ran meanwhile, synchronous code and
 * its garbage collection; waiting for a core adds nothing). A bound on the CPU time held is what
 * a test can assert on a shared machine; the wall-time figures are reported beside it.
 */
export interface EventLoopHolds {
  /** The longest stretch between two ticks, in this thread's CPU milliseconds. */
  maxCpuMs: number
  /** The wall time of that stretch. */
  maxCpuWallMs: number
  /** The longest event-loop delay perf_hooks saw (wall time), in milliseconds. */
  maxDelayMs: number
  /** The 99th percentile of the event-loop delay, in milliseconds. */
  p99DelayMs: number
  /** Ticks observed. */
  ticks: number
}

export interface EventLoopWatch {
  /** Stops watching; the holds seen since `watchEventLoop`. */
  stop(): EventLoopHolds
}

/** Starts watching the event loop of the calling thread. */
export function watchEventLoop(intervalMs = 5): EventLoopWatch {
  const delay = monitorEventLoopDelay({ resolution: intervalMs })
  delay.enable()
  let lastCpu = threadCpuMs()
  let lastWall = performance.now()
  let maxCpuMs = 0
  let maxCpuWallMs = 0
  let ticks = 0
  const tick = () => {
    const cpu = threadCpuMs()
    const wall = performance.now()
    if (cpu - lastCpu > maxCpuMs) {
      maxCpuMs = cpu - lastCpu
      maxCpuWallMs = wall - lastWall
    }
    lastCpu = cpu
    lastWall = wall
    ticks++
  }
  const timer = setInterval(tick, intervalMs)
  return {
    stop() {
      tick()
      clearInterval(timer)
      delay.disable()
      return {
        maxCpuMs,
        maxCpuWallMs,
        maxDelayMs: delay.max / 1e6,
        p99DelayMs: delay.percentile(99) / 1e6,
        ticks,
      }
    },
  }
}

function threadCpuMs(): number {
  const usage = process.threadCpuUsage()
  return (usage.user + usage.system) / 1000
}

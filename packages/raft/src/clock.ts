/**
 * The clock that ticks Raft: once per `tickMs` of real time, kept in step with it.
 *
 * A repeating timer is re-armed from when its callback ran, so each late run (a busy event loop, a
 * loaded machine) pushes every later tick back and the count of ticks falls further and further
 * behind real time. Follower read leases need the count within one tick of real time
 * (`RaftNode.leaseRead` drops the lease otherwise), so the clock counts the ticks real time owes
 * and gives a missing one with the next run: at most `TickPacer.CATCH_UP` ticks a run. A longer
 * stall is not made up for (a burst of ticks before the messages that arrived meanwhile are read
 * would start elections): the count starts again from then, and the nodes' own check of their
 * clock drops their leases.
 */
export class TickPacer {
  static readonly CATCH_UP = 2
  readonly #tickMs: number
  #epochMs: number
  #given = 0

  constructor(tickMs: number, startMs: number) {
    this.#tickMs = tickMs
    this.#epochMs = startMs
  }

  /** The ticks to give at a run of the timer at `nowMs`. */
  ticksAt(nowMs: number): number {
    const owed = Math.floor((nowMs - this.#epochMs) / this.#tickMs) - this.#given
    // A run a little early (timers keep whole milliseconds) owes nothing; the next one catches up.
    const ticks = Math.min(Math.max(owed, 0), TickPacer.CATCH_UP)
    this.#given += ticks
    if (owed > TickPacer.CATCH_UP) {
      this.#epochMs = nowMs
      this.#given = 0
    }
    return ticks
  }
}

/** Calls `onTick` once per `tickMs` of real time (see `TickPacer`); stop it with `clearInterval`. */
export function startClock(tickMs: number, onTick: () => void): ReturnType<typeof setInterval> {
  const pacer = new TickPacer(tickMs, performance.now())
  const timer = setInterval(() => {
    for (let ticks = pacer.ticksAt(performance.now()); ticks > 0; ticks--) onTick()
  }, tickMs)
  timer.unref?.()
  return timer
}

/**
 * One failover probe for every system, so the figures compare: the leader is
 * stopped (SIGKILL, or SIGSTOP), then every `intervalMs` one put attempt
 * starts at every surviving member, each abandoned after `attemptDeadlineMs`.
 * The figure is the time from the signal to the first acknowledged put,
 * whichever member acknowledged it (a system whose followers forward
 * proposals may answer through a follower; one whose followers refuse
 * answers through the new leader). Attempts overlap, so neither a fast
 * refusal nor a slow timeout changes when the next attempt starts.
 *
 * The two signals test two ways of noticing the leader is gone. After
 * SIGKILL the OS closes the leader's sockets and refuses new connections, a
 * signal a member may act on at once (Shoal's members do:
 * `RaftNode.peerUnreachable`; etcd 3.4's do not, they wait out the election
 * timeout). After SIGSTOP the process is paused with its sockets open, like a
 * long GC pause or a hung machine: only the election timeout can tell.
 */
export type LeaderFault = 'SIGKILL' | 'SIGSTOP'

export interface FailoverProbe {
  /** Sends the leader the fault's signal (`kill -KILL` or `kill -STOP`); resolves once it took effect (SIGKILL: the process exited). */
  kill(): Promise<void>
  /** The members that stay up. */
  survivors: readonly string[]
  /**
   * One put at `survivor`; resolves when acknowledged, rejects on refusal or
   * error. It must give up by itself after `deadlineMs`.
   */
  attempt(survivor: string, sequence: number, deadlineMs: number): Promise<unknown>
  /** Other probe timing than `FAILOVER_PROBE` (a system whose write is heavier than a put). */
  timing?: Partial<{ intervalMs: number; attemptDeadlineMs: number; giveUpMs: number }>
}

export interface FailoverTiming {
  /** Signal → first acknowledged put. */
  elapsedMs: number
  /** Put attempts started before one was acknowledged (all members). */
  attempts: number
}

export const FAILOVER_PROBE = Object.freeze({ intervalMs: 10, attemptDeadlineMs: 500, giveUpMs: 30_000 })

export async function timeFailover(probe: FailoverProbe): Promise<FailoverTiming> {
  const { intervalMs, attemptDeadlineMs, giveUpMs } = { ...FAILOVER_PROBE, ...probe.timing }
  const started = performance.now()
  await probe.kill()
  const result: { acknowledgedAt: number | null } = { acknowledgedAt: null }
  let attempts = 0
  let sequence = 0
  const inFlight = new Set<Promise<unknown>>()
  let wake: (() => void) | null = null
  while (result.acknowledgedAt === null) {
    if (performance.now() - started > giveUpMs) throw new Error(`no put acknowledged within ${giveUpMs} ms`)
    for (const survivor of probe.survivors) {
      attempts++
      const attempt = withDeadline(probe.attempt(survivor, sequence++, attemptDeadlineMs), attemptDeadlineMs)
        .then(() => {
          result.acknowledgedAt ??= performance.now()
          wake?.()
        })
        .catch(() => {})
      inFlight.add(attempt)
      void attempt.finally(() => inFlight.delete(attempt))
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, intervalMs)
      wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
    wake = null
  }
  // Let abandoned attempts settle before the caller closes their clients.
  await Promise.allSettled(inFlight)
  return { elapsedMs: (result.acknowledgedAt ?? Number.NaN) - started, attempts }
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms + 50)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}

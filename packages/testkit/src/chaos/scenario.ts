import type { Rng } from '../rng/index.ts'
import type { FaultNetwork } from './fault-network.ts'
import type { SystemCapabilities, SystemUnderTest } from './system.ts'

/** One fault the nemesis applied, for the report. */
export interface FaultRecord {
  kind: string
  detail: string
  /** Milliseconds since the run started. */
  at: number
  healedAt: number | null
}

/** What a scenario's fault step gets. */
export interface NemesisContext {
  system: SystemUnderTest
  network: FaultNetwork
  /** The scenario's own generator (forked from the run's seed). */
  rng: Rng
}

/** An applied fault: what it was, and how to undo it. */
export interface AppliedFault {
  kind: string
  detail: string
  /** How long to hold it; when absent the runner draws from the scenario's `holdMs`. */
  holdMs?: number
  heal(): Promise<void> | void
}

/**
 * A named, re-runnable fault schedule. The runner repeats a cycle until the
 * duration ends: quiet for a random time in `quietMs`, then `apply` one fault,
 * hold it for a random time in `holdMs`, then heal it.
 */
export interface Scenario {
  name: string
  description: string
  /** Capabilities the system must have; the runner refuses the scenario otherwise. */
  requires?: Array<keyof SystemCapabilities>
  /** [min, max] quiet time before each fault. */
  quietMs: [number, number]
  /** [min, max] time each fault is held. */
  holdMs: [number, number]
  apply(context: NemesisContext): Promise<AppliedFault>
}

import { ChaosConfigError } from '../errors.ts'
import type { Scenario } from '../scenario.ts'

/**
 * Several scenarios sharing one run: each cycle applies the next one in turn,
 * with its own quiet and hold times. Fault kinds in the report are prefixed
 * with the scenario's name.
 */
export function roundRobin(scenarios: readonly Scenario[]): Scenario {
  if (scenarios.length === 0) throw new ChaosConfigError('round robin of no scenarios')
  if (scenarios.length === 1) return scenarios[0] as Scenario
  let next = 0
  let quiet: [number, number] = (scenarios[0] as Scenario).quietMs
  const requires = [...new Set(scenarios.flatMap((s) => s.requires ?? []))]
  return {
    name: scenarios.map((s) => s.name).join(','),
    description: scenarios.map((s) => `${s.name}: ${s.description}`).join(' / '),
    requires,
    get quietMs() {
      return quiet
    },
    holdMs: [0, 0],
    async apply(context) {
      const scenario = scenarios[next % scenarios.length] as Scenario
      next++
      quiet = (scenarios[next % scenarios.length] as Scenario).quietMs
      const applied = await scenario.apply(context)
      const [min, max] = scenario.holdMs
      return {
        ...applied,
        kind: `${scenario.name}: ${applied.kind}`,
        holdMs: min + context.rng.int(Math.max(1, max - min + 1)),
      }
    },
  }
}

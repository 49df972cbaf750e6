import { ChaosConfigError } from '../errors.ts'
import type { Scenario } from '../scenario.ts'

/**
 * The same faults with quiet and hold times multiplied by `factor` (at least
 * 100 ms each): short cycles, so a smoke of a few tens of seconds applies
 * every scenario of a round robin. A fault that carries its own hold time
 * (a round robin's) has it scaled too.
 */
export function timeScaled(scenario: Scenario, factor: number): Scenario {
  if (!(factor > 0 && factor <= 1))
    throw new ChaosConfigError(`a time scale must be in (0, 1], got ${factor}`)
  if (factor === 1) return scenario
  const scale = ([min, max]: [number, number]): [number, number] => [
    Math.max(100, Math.round(min * factor)),
    Math.max(100, Math.round(max * factor)),
  ]
  return {
    name: scenario.name,
    description: `${scenario.description} (times × ${factor})`,
    ...(scenario.requires === undefined ? {} : { requires: scenario.requires }),
    // Read at each cycle: a round robin's quiet time changes with the next scenario.
    get quietMs() {
      return scale(scenario.quietMs)
    },
    holdMs: scale(scenario.holdMs),
    async apply(context) {
      const applied = await scenario.apply(context)
      return applied.holdMs === undefined
        ? applied
        : { ...applied, holdMs: Math.max(100, Math.round(applied.holdMs * factor)) }
    },
  }
}

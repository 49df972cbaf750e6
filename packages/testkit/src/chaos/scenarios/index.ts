import { ChaosConfigError } from '../errors.ts'
import type { Scenario } from '../scenario.ts'
import { clockSkew } from './clock-skew.ts'
import { corruption } from './corruption.ts'
import { diskFull } from './disk-full.ts'
import { fsyncFailure } from './fsync-failure.ts'
import { killAll } from './kill-all.ts'
import { killLeader } from './kill-leader.ts'
import { latencySpikes } from './latency-spikes.ts'
import { membershipPartition } from './membership-partition.ts'
import { movesPartition } from './moves-partition.ts'
import { packetLoss } from './packet-loss.ts'
import { partitionBridge } from './partition-bridge.ts'
import { partitionHalves } from './partition-halves.ts'
import { partitionLeader } from './partition-leader.ts'
import { partitionOneWay } from './partition-one-way.ts'
import { pause } from './pause.ts'
import { regionCutoff } from './region-cutoff.ts'
import { roundRobin } from './round-robin.ts'
import { standbyPromotion } from './standby-promotion.ts'

/** Every named scenario, in the order of the reliability table. */
export const SCENARIOS: readonly Scenario[] = [
  partitionHalves,
  partitionLeader,
  partitionBridge,
  partitionOneWay,
  killLeader,
  killAll,
  pause,
  latencySpikes,
  packetLoss,
  corruption,
  clockSkew,
  diskFull,
  fsyncFailure,
  membershipPartition,
  movesPartition,
  standbyPromotion,
  regionCutoff,
]

/** A scenario by name, or several (`a,b,c`) sharing one run in turn. */
export function scenarioByName(name: string): Scenario {
  if (name.includes(',')) return roundRobin(name.split(',').map((part) => scenarioByName(part.trim())))
  const scenario = SCENARIOS.find((s) => s.name === name)
  if (scenario === undefined)
    throw new ChaosConfigError(
      `unknown scenario '${name}'; known: ${SCENARIOS.map((s) => s.name).join(', ')}`,
    )
  return scenario
}

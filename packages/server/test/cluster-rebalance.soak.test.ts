import { describeRebalanceScenario } from './harness/rebalance-scenario.ts'

// The whole rebalancing scenario (harness/rebalance-scenario.ts), the kill of the metadata leader
// mid-move, the replacement of a dead node and a rolled-back move included.

describeRebalanceScenario(true)

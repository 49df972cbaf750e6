import { describeRebalanceScenario } from './harness/rebalance-scenario.ts'

// Growing and shrinking a real cluster under load (harness/rebalance-scenario.ts): a drain that
// cannot be done, a node that joins and receives replicas, a node drained away, and at the end
// every acknowledged write present and a linearizable history. The kill, replace and rollback
// steps run in cluster-rebalance.soak.test.ts.

describeRebalanceScenario(false)

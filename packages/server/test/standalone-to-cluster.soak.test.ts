import { describe, it } from 'vitest'
import { standaloneToCluster } from './harness/standalone-to-cluster.ts'

// Soak: the whole runbook of docs/operations/standalone-to-cluster.md — conversion, two nodes
// join, `shoal cluster rebalance` spreads the shards — with the official client checking every node.
describe('from one standalone node to a three-node cluster (soak)', () => {
  it('keeps every index, document, setting, API key and task on every node after two nodes join and a rebalance', async () => {
    await standaloneToCluster(['n1', 'n2'])
  }, 300_000)
})

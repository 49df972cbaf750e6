import { describeChaosMeta } from './harness/chaos-meta-suite.ts'

// The CI smoke of the metadata group's chaos checks: every scenario the cluster supports (clock,
// disk and fsync faults have no injection point in the server; moves-partition runs against a
// sharded index) applied in turn, with quiet and hold times at 0.3×, on 3 members and 2 spares
// (one joins during the last fault's partition), for 30 s or until each was applied once. The long
// groups run under `pnpm test:soak` (chaos-meta.soak.test.ts).

describeChaosMeta('chaos smoke: the metadata group of a 3-node cluster', [
  {
    name: 'every scenario, in turn',
    scenarios: [
      'partition-halves',
      'partition-leader',
      'partition-bridge',
      'partition-one-way',
      'kill-leader',
      'kill-all',
      'pause',
      'latency-spikes',
      'packet-loss',
      'corruption',
      'membership-partition',
    ],
    durationMs: 30_000,
    timeScale: 0.3,
    spares: 2,
    testTimeoutMs: 200_000,
  },
])

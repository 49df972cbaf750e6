import { describeChaosMeta } from './harness/chaos-meta-suite.ts'

// The CI smoke of the metadata group's chaos checks: one group mixing a partition, a link fault
// and process faults. Every group runs under `pnpm test:soak` (chaos-meta.soak.test.ts).

describeChaosMeta('chaos smoke: the metadata group of a 3-node cluster', [
  {
    name: 'mixed faults',
    scenarios: ['partition-leader', 'packet-loss', 'pause', 'kill-leader'],
    durationMs: 30_000,
  },
])

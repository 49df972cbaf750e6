import { type ChaosMetaGroup, describeChaosMeta } from './harness/chaos-meta-suite.ts'

// Every group of the metadata group's chaos checks, each on a fresh 3-process cluster
// (`pnpm test:soak`; the CI smoke is chaos-meta.test.ts).

const groups: ChaosMetaGroup[] = [
  {
    name: 'partitions',
    scenarios: ['partition-halves', 'partition-leader', 'partition-bridge', 'partition-one-way'],
    durationMs: 25_000,
  },
  { name: 'link faults', scenarios: ['latency-spikes', 'packet-loss', 'corruption'], durationMs: 25_000 },
  // A restarted node counts as back once it serves again, which takes seconds on a loaded machine:
  // the pause comes first and the power cut last, so every kind lands within the duration.
  { name: 'process faults', scenarios: ['pause', 'kill-leader', 'kill-all'], durationMs: 30_000 },
  // Starts with 3 members and 2 spares: a node joins during the first partition.
  {
    name: 'membership during partitions',
    scenarios: ['membership-partition'],
    durationMs: 35_000,
    spares: 2,
  },
]

describeChaosMeta('chaos: the metadata group of a 3-node cluster', groups)

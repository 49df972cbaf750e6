import { describeKvChaos, type KvChaosGroup } from './kv-chaos-suite.ts'

// Every chaos scenario against the KV example as three real processes (`pnpm test:soak`; the CI
// smoke is kv-chaos.test.ts).

const groups: KvChaosGroup[] = [
  {
    name: 'network faults',
    scenarios: [
      'partition-halves',
      'partition-leader',
      'partition-bridge',
      'partition-one-way',
      'latency-spikes',
      'packet-loss',
      'corruption',
    ],
    durationMs: 70_000,
  },
  {
    name: 'process, clock and disk faults',
    scenarios: ['kill-leader', 'kill-all', 'pause', 'clock-skew', 'fsync-failure', 'disk-full'],
    durationMs: 50_000,
  },
]

describeKvChaos('chaos: the KV example under every scenario', groups)

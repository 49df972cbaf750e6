import { describeKvChaos } from './kv-chaos-suite.ts'

// The CI smoke of the KV example's chaos checks: one group mixing a partition, a link fault, a
// process fault and a disk fault. Every scenario runs under `pnpm test:soak` (kv-chaos.soak.test.ts).

describeKvChaos('chaos smoke: the KV example under mixed faults', [
  {
    name: 'mixed faults',
    scenarios: ['partition-leader', 'packet-loss', 'kill-leader', 'fsync-failure'],
    durationMs: 40_000,
  },
])

import { SCENARIOS } from '@shoal/testkit/chaos'
import { describeKvChaos } from './kv-chaos-suite.ts'

// The CI smoke of the KV example's chaos checks: every scenario the example supports (all but the
// membership ones; disk-full only where a tmpfs can be mounted) applied in turn, with quiet and
// hold times at 0.3× (faults of 0.15–2.4 s; the election timeout is 200 ms), for 20 s or until
// each was applied once (restarts are slow on a loaded machine). The long groups run under
// `pnpm test:soak` (kv-chaos.soak.test.ts).

describeKvChaos('chaos smoke: the KV example under every scenario, in turn', [
  {
    name: 'every scenario',
    scenarios: SCENARIOS.map((s) => s.name),
    durationMs: 20_000,
    timeScale: 0.3,
  },
])

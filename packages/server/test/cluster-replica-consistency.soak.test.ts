// The whole of cluster-replica-consistency.test.ts under `pnpm test:soak`, where its timing-bound
// async write-concern case runs too (it is skipped in the default suite).
import './cluster-replica-consistency.test.ts'

import { shoalProject } from '../../vitest.shared.ts'

// The recall tests build 20k x 128 graphs, which takes tens of seconds on a
// loaded two-core machine.
export default shoalProject('hnsw', { testTimeoutMs: 120_000 })

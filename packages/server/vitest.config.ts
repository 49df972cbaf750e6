import { shoalProject } from '../../vitest.shared.ts'

export default shoalProject('server', { testTimeoutMs: 60_000 })

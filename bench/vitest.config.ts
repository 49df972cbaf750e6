import { shoalProject } from '../vitest.shared.ts'

export default shoalProject('bench')

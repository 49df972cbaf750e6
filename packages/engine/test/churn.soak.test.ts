// The figure: the same 10k documents replaced 100 times (see churn.test.ts).

import { describe, it } from 'vitest'
import { replaceRounds } from './churn-case.ts'

describe('replacing the same documents over and over', () => {
  it('keeps the structures within 1.2x of a fresh index after 100 rounds of 10k replacements', async () => {
    await replaceRounds(100)
  }, 600_000)
})

import { describe, it } from 'vitest'
import { expectDefaultRecall } from './reference/recall-case.ts'

describe('recall at default settings', () => {
  it('reaches recall@10 >= 0.95 on 20k x 128 clustered vectors under cosine', async () => {
    await expectDefaultRecall('cosine')
  })
})

import { Meilisearch } from 'meilisearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, startInProcess } from './harness/in-process.ts'

// Meilisearch's typoTolerance setting, every field, through the official client; exact errors over HTTP.

const MASTER = 'in-process-master-key-0123456789'

const DOCS = [
  { id: 1, name: 'elephant', note: 'grey' },
  { id: 2, name: 'giraffe', note: 'an elephant friend' },
  { id: 3, name: 'counter', note: 'tag 123456' },
]

describe('typoTolerance over HTTP', () => {
  let node: InProcessServer
  let client: Meilisearch
  const ids = async (q: string) =>
    ((await node.call('POST', '/indexes/zoo/search', { q })).body.hits as { id: number }[])
      .map((h) => h.id)
      .sort()

  beforeAll(async () => {
    node = await startInProcess(MASTER)
    client = new Meilisearch({ host: node.server.url, apiKey: MASTER })
    await node.write('POST', '/indexes/zoo/documents?primaryKey=id', DOCS)
  })
  afterAll(() => node.close())

  it("GET returns Meilisearch's defaults for every field", async () => {
    expect(await client.index('zoo').getTypoTolerance()).toEqual({
      enabled: true,
      minWordSizeForTypos: { oneTypo: 5, twoTypos: 9 },
      disableOnWords: [],
      disableOnAttributes: [],
      disableOnNumbers: false,
    })
  })

  it('disableOnWords, disableOnAttributes and disableOnNumbers are stored, applied and reset', async () => {
    const index = client.index('zoo')
    expect(await ids('elephont')).toEqual([1, 2])
    expect(await ids('123450')).toEqual([3])
    await index.updateTypoTolerance({ disableOnAttributes: ['note'], disableOnNumbers: true }).waitTask()
    expect(await ids('elephont')).toEqual([1])
    expect(await ids('123450')).toEqual([])
    await index.updateTypoTolerance({ disableOnWords: ['elephont'] }).waitTask()
    expect(await ids('elephont')).toEqual([])
    expect(await index.getTypoTolerance()).toMatchObject({
      disableOnWords: ['elephont'],
      disableOnAttributes: ['note'],
      disableOnNumbers: true,
    })
    await index.resetTypoTolerance().waitTask()
    expect(await ids('elephont')).toEqual([1, 2])
    expect(await ids('123450')).toEqual([3])
  })

  it('a bad value fails the settings task with invalid_settings_typo_tolerance', async () => {
    for (const body of [
      { disableOnWords: 'elephant' },
      { disableOnNumbers: 1 },
      { disableOnAttributes: [''] },
    ]) {
      const answer = await node.call('PATCH', '/indexes/zoo/settings/typo-tolerance', body)
      const status =
        answer.status === 202 ? (await node.waitTask(answer.body.taskUid)).error?.code : answer.body.code
      expect(status).toBe('invalid_settings_typo_tolerance')
    }
  })
})

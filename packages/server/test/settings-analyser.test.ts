import { Meilisearch } from 'meilisearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, startInProcess } from './harness/in-process.ts'

// Meilisearch's dictionary, separatorTokens, nonSeparatorTokens, proximityPrecision and
// localizedAttributes settings through the official client, and their exact errors over HTTP.

const MASTER = 'in-process-master-key-0123456789'

const DOCS = [
  { id: 1, title: 'Programming in C# and F#', body: 'by J. R. R. Tolkien' },
  { id: 2, title: 'Programming in C', body: 'salt&seppepper' },
  { id: 3, title: 'Notes', body: 'The quick brown fox' },
  { id: 4, title: 'Fox notes', body: 'a brown dog and a quick fox' },
]

describe('analyser settings over HTTP', () => {
  let node: InProcessServer
  let client: Meilisearch
  const ids = async (body: Record<string, unknown>) =>
    ((await node.call('POST', '/indexes/books/search', body)).body.hits as { id: number }[]).map((h) => h.id)

  beforeAll(async () => {
    node = await startInProcess(MASTER)
    client = new Meilisearch({ host: node.server.url, apiKey: MASTER })
    await node.write('POST', '/indexes/books/documents?primaryKey=id', DOCS)
  })
  afterAll(() => node.close())

  it("GET /settings returns Meilisearch's defaults for them", async () => {
    const settings = await client.index('books').getSettings()
    expect(settings).toMatchObject({
      dictionary: [],
      separatorTokens: [],
      nonSeparatorTokens: [],
      proximityPrecision: 'byWord',
      localizedAttributes: null,
    })
  })

  it('nonSeparatorTokens: updated, read and reset through the client, re-indexing the documents', async () => {
    const index = client.index('books')
    await index.updateNonSeparatorTokens(['#']).waitTask()
    expect(await index.getNonSeparatorTokens()).toEqual(['#'])
    expect(await ids({ q: 'c#' })).toEqual([1])
    await index.resetNonSeparatorTokens().waitTask()
    expect(await index.getNonSeparatorTokens()).toEqual([])
    expect((await ids({ q: 'c#' })).sort()).toEqual([1, 2])
  })

  it('separatorTokens: updated, read and reset through the client', async () => {
    const index = client.index('books')
    await index.updateSeparatorTokens(['&sep']).waitTask()
    expect(await index.getSeparatorTokens()).toEqual(['&sep'])
    expect(await ids({ q: 'pepper' })).toEqual([2])
    await index.resetSeparatorTokens().waitTask()
    expect(await ids({ q: 'pepper' })).toEqual([])
  })

  it('dictionary: updated, read and reset through the client', async () => {
    const index = client.index('books')
    await index.updateDictionary(['J. R. R.']).waitTask()
    expect(await index.getDictionary()).toEqual(['J. R. R.'])
    const answer = await node.call('POST', '/indexes/books/search', {
      q: 'J. R. R.',
      attributesToHighlight: ['body'],
    })
    expect(answer.body.hits[0]._formatted.body).toBe('by <em>J. R. R.</em> Tolkien')
    await index.resetDictionary().waitTask()
    expect(await index.getDictionary()).toEqual([])
  })

  it('proximityPrecision: byAttribute lets a phrase match its words anywhere in one attribute', async () => {
    const index = client.index('books')
    expect(await ids({ q: '"quick fox"' })).toEqual([4])
    await index.updateProximityPrecision('byAttribute').waitTask()
    expect(await index.getProximityPrecision()).toBe('byAttribute')
    expect((await ids({ q: '"quick fox"' })).sort()).toEqual([3, 4])
    await index.resetProximityPrecision().waitTask()
    expect(await index.getProximityPrecision()).toBe('byWord')
  })

  it('localizedAttributes: honoured locales are stored; another fails the task with the reason', async () => {
    const index = client.index('books')
    await index
      .updateLocalizedAttributes([{ attributePatterns: ['title'], locales: ['eng', 'fra'] }])
      .waitTask()
    expect(await index.getLocalizedAttributes()).toEqual([
      { attributePatterns: ['title'], locales: ['eng', 'fra'] },
    ])
    const task = await index
      .updateLocalizedAttributes([{ attributePatterns: ['*'], locales: ['jpn'] }])
      .waitTask()
    expect(task.status).toBe('failed')
    expect(task.error?.code).toBe('invalid_settings_localized_attributes')
    expect(task.error?.message).toMatch(/cannot honour locale `jpn`/)
    await index.resetLocalizedAttributes().waitTask()
    expect(await index.getLocalizedAttributes()).toBeNull()
  })

  it('PATCH /settings takes them together and DELETE /settings resets them', async () => {
    await node.write('PATCH', '/indexes/books/settings', {
      dictionary: ['C++'],
      separatorTokens: ['|'],
      nonSeparatorTokens: ['@'],
      proximityPrecision: 'byAttribute',
      localizedAttributes: [{ attributePatterns: ['*'], locales: ['spa'] }],
    })
    expect((await node.call('GET', '/indexes/books/settings')).body).toMatchObject({
      dictionary: ['C++'],
      separatorTokens: ['|'],
      nonSeparatorTokens: ['@'],
      proximityPrecision: 'byAttribute',
    })
    await node.write('DELETE', '/indexes/books/settings')
    expect((await node.call('GET', '/indexes/books/settings')).body).toMatchObject({
      dictionary: [],
      separatorTokens: [],
      nonSeparatorTokens: [],
      proximityPrecision: 'byWord',
      localizedAttributes: null,
    })
  })

  it.each([
    ['dictionary', '"x"', 'invalid_settings_dictionary'],
    ['separator-tokens', '[1]', 'invalid_settings_separator_tokens'],
    ['non-separator-tokens', '{}', 'invalid_settings_non_separator_tokens'],
    ['proximity-precision', '3', 'invalid_settings_proximity_precision'],
    ['localized-attributes', '{}', 'invalid_settings_localized_attributes'],
  ])('PUT /settings/%s %s is refused with 400 %s', async (path, body, code) => {
    const answer = await node.call('PUT', `/indexes/books/settings/${path}`, body)
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 400, code })
  })

  it.each([
    [{ proximityPrecision: 'byLine' }, 'invalid_settings_proximity_precision'],
    [{ nonSeparatorTokens: [''] }, 'invalid_settings_non_separator_tokens'],
    [
      { localizedAttributes: [{ attributePatterns: ['*'], locales: ['xx'] }] },
      'invalid_settings_localized_attributes',
    ],
  ])('PATCH /settings %j fails its task with %s', async (body, code) => {
    const answer = await node.call('PATCH', '/indexes/books/settings', body)
    const task = await node.waitTask(answer.body.taskUid)
    expect({ status: task.status, code: task.error?.code }).toEqual({ status: 'failed', code })
  })
})

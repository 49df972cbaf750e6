import { createHmac } from 'node:crypto'
import { Meilisearch } from 'meilisearch'
import { generateTenantToken } from 'meilisearch/token'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, startInProcess } from './harness/in-process.ts'

// Tenant tokens (Meilisearch's tenant token reference): JWTs signed with an
// API key, whose search rules are enforced as filters on every search the
// token makes. Tokens are made with the official client's generator.

const MASTER = 'in-process-master-key-0123456789'

const RECORDS = [
  { id: 1, owner: 'ann', text: 'blood test' },
  { id: 2, owner: 'bob', text: 'blood pressure' },
  { id: 3, owner: 'ann', text: 'x-ray' },
]

describe('tenant tokens', () => {
  let node: InProcessServer
  let master: Meilisearch
  let searchKey: { key: string; uid: string }
  let adminKey: { key: string; uid: string }

  function as(token: string): Meilisearch {
    return new Meilisearch({ host: node.server.url, apiKey: token })
  }

  async function status(token: string, method: string, path: string, body?: unknown): Promise<number> {
    const answer = await fetch(`${node.server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
    return answer.status
  }

  beforeAll(async () => {
    node = await startInProcess(MASTER)
    master = new Meilisearch({ host: node.server.url, apiKey: MASTER })
    await node.write('PATCH', '/indexes/records/settings', { filterableAttributes: ['owner', 'id'] })
    await node.write('POST', '/indexes/records/documents?primaryKey=id', RECORDS)
    await node.write('POST', '/indexes/other/documents?primaryKey=id', [{ id: 9, text: 'blood' }])
    searchKey = await master.createKey({ actions: ['search'], indexes: ['records'], expiresAt: null })
    adminKey = await master.createKey({ actions: ['*'], indexes: ['*'], expiresAt: null })
  })
  afterAll(() => node.close())

  it("applies the rule's filter to every search, ANDed with the request's own", async () => {
    const token = await generateTenantToken({
      apiKey: searchKey.key,
      apiKeyUid: searchKey.uid,
      searchRules: { records: { filter: 'owner = ann' } },
    })
    const index = as(token).index('records')
    expect((await index.search('')).hits.map((h) => h.id)).toEqual([1, 3])
    expect((await index.search('blood')).hits.map((h) => h.id)).toEqual([1])
    expect((await index.search('', { filter: 'id = 2' })).hits).toEqual([])
    expect((await index.searchGet('', { filter: 'id = 3' })).hits.map((h) => h.id)).toEqual([3])
    const multi = await as(token).multiSearch({ queries: [{ indexUid: 'records', q: 'blood' }] })
    expect(multi.results[0]?.hits.map((h) => h.id)).toEqual([1])
  })

  it('reaches only the indexes its rules and its key both allow', async () => {
    const token = await generateTenantToken({
      apiKey: adminKey.key,
      apiKeyUid: adminKey.uid,
      searchRules: ['rec*'],
    })
    expect((await as(token).index('records').search('blood')).hits.map((h) => h.id)).toEqual([1, 2])
    expect(await status(token, 'POST', '/indexes/other/search', {})).toBe(403)
    const narrow = await generateTenantToken({
      apiKey: searchKey.key,
      apiKeyUid: searchKey.uid,
      searchRules: ['*'],
    })
    expect(await status(narrow, 'POST', '/indexes/other/search', {})).toBe(403)
  })

  it('a specific rule overrides `*`', async () => {
    const token = await generateTenantToken({
      apiKey: adminKey.key,
      apiKeyUid: adminKey.uid,
      searchRules: { '*': { filter: 'owner = bob' }, records: { filter: 'owner = ann' } },
    })
    expect((await as(token).index('records').search('blood')).hits.map((h) => h.id)).toEqual([1])
  })

  it('may only search', async () => {
    const token = await generateTenantToken({ apiKey: adminKey.key, apiKeyUid: adminKey.uid })
    expect(await status(token, 'GET', '/indexes/records/documents')).toBe(403)
    expect(await status(token, 'GET', '/indexes')).toBe(403)
    expect(await status(token, 'POST', '/indexes/records/documents', [{ id: 5 }])).toBe(403)
  })

  it('is refused when expired, forged, signed by another key or by the master key, or its key is gone', async () => {
    const expired = await generateTenantToken({
      apiKey: searchKey.key,
      apiKeyUid: searchKey.uid,
      searchRules: ['records'],
      expiresAt: Math.floor(Date.now() / 1000) - 10,
      force: true,
    })
    const wrongKey = await generateTenantToken({
      apiKey: adminKey.key,
      apiKeyUid: searchKey.uid,
      searchRules: ['records'],
    })
    const byMaster = await generateTenantToken({ apiKey: MASTER, apiKeyUid: searchKey.uid })
    const good = await generateTenantToken({
      apiKey: searchKey.key,
      apiKeyUid: searchKey.uid,
      searchRules: { records: { filter: 'owner = ann' } },
    })
    // The same payload with the filter removed, re-signed with a guessed secret.
    const [header, payload] = good.split('.')
    const opened = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'))
    opened.searchRules = ['records']
    const forgedPayload = Buffer.from(JSON.stringify(opened)).toString('base64url')
    const forgedSignature = createHmac('sha256', 'guess')
      .update(`${header}.${forgedPayload}`)
      .digest('base64url')
    const forged = `${header}.${forgedPayload}.${forgedSignature}`
    for (const token of [expired, wrongKey, byMaster, forged, 'a.b.c']) {
      const answer = await fetch(`${node.server.url}/indexes/records/search`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{}',
      })
      expect([answer.status, ((await answer.json()) as { code: string }).code]).toEqual([
        403,
        'invalid_api_key',
      ])
    }
    const throwaway = await master.createKey({ actions: ['search'], indexes: ['*'], expiresAt: null })
    const orphan = await generateTenantToken({ apiKey: throwaway.key, apiKeyUid: throwaway.uid })
    expect(await status(orphan, 'POST', '/indexes/records/search', {})).toBe(200)
    await master.deleteKey(throwaway.uid)
    expect(await status(orphan, 'POST', '/indexes/records/search', {})).toBe(403)
  })

  it('honours HS384 and HS512', async () => {
    for (const algorithm of ['HS384', 'HS512'] as const) {
      const token = await generateTenantToken({
        apiKey: searchKey.key,
        apiKeyUid: searchKey.uid,
        searchRules: { records: { filter: 'owner = bob' } },
        algorithm,
      })
      expect((await as(token).index('records').search('')).hits.map((h) => h.id)).toEqual([2])
    }
  })
})

import { createHmac } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { deriveKey } from '../src/index.ts'
import { KeyStore } from '../src/internal/api-keys.ts'

const MASTER = 'a-master-key-of-sufficient-length'

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    return (error as { code?: string }).code
  }
  return undefined
}

describe('API keys', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'shoal-keys-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('derives a key as hex HMAC-SHA256 of the uid under the master key (as Meilisearch does)', () => {
    const uid = '01b4bc42-eb33-4041-b481-254d00cce834'
    expect(deriveKey(MASTER, uid)).toBe(createHmac('sha256', MASTER).update(uid).digest('hex'))
    expect(deriveKey(MASTER, uid)).toMatch(/^[0-9a-f]{64}$/)
  })

  it('creates the default search and admin keys on first start with a master key', async () => {
    const store = await KeyStore.open(path.join(dir, 'keys.json'), MASTER)
    const names = store.list(0, 20).results.map((k) => k.name)
    expect(names).toEqual(expect.arrayContaining(['Default Search API Key', 'Default Admin API Key']))
  })

  it('grants a key only its actions and indexes, and not after it expires', async () => {
    const store = await KeyStore.open(path.join(dir, 'keys.json'), MASTER)
    const key = await store.create({
      actions: ['search', 'documents.*'],
      indexes: ['movies*'],
      expiresAt: null,
    })
    expect(store.authorize(key.key, 'search', 'movies').allowsIndex('movies-fr')).toBe(true)
    expect(store.authorize(key.key, 'documents.add', 'movies_2024').allowsIndex('books')).toBe(false)
    expect(codeOf(() => store.authorize(key.key, 'search', 'books'))).toBe('invalid_api_key')
    expect(codeOf(() => store.authorize(key.key, 'indexes.create', null))).toBe('invalid_api_key')
    expect(codeOf(() => store.authorize(undefined, 'search', 'movies'))).toBe('missing_authorization_header')
    expect(codeOf(() => store.authorize('not-a-key', 'search', 'movies'))).toBe('invalid_api_key')
    expect(store.authorize(MASTER, 'keys.create', null).allIndexes).toBe(true)
    // Creating a key syncs the key file, which can take a while on a busy disk: the key expires
    // well after that, and the second check waits until it has.
    const expiresAt = Date.now() + 2_000
    const expiring = await store.create({
      actions: ['*'],
      indexes: ['*'],
      expiresAt: new Date(expiresAt).toISOString(),
    })
    expect(store.authorize(expiring.key, 'search', 'movies').allIndexes).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, expiresAt - Date.now() + 20))
    expect(codeOf(() => store.authorize(expiring.key, 'search', 'movies'))).toBe('invalid_api_key')
  })

  it('keeps keys across restarts, and every key changes with the master key', async () => {
    const file = path.join(dir, 'keys.json')
    const store = await KeyStore.open(file, MASTER)
    const created = await store.create({ name: 'ci', actions: ['search'], indexes: ['*'], expiresAt: null })
    const reopened = await KeyStore.open(file, MASTER)
    expect(reopened.get(created.uid)).toEqual(created)
    expect(reopened.get(created.key).name).toBe('ci')
    const rotated = await KeyStore.open(file, `${MASTER}-rotated`)
    expect(rotated.get(created.uid).key).not.toBe(created.key)
    expect(codeOf(() => rotated.authorize(created.key, 'search', 'x'))).toBe('invalid_api_key')
  })

  it('validates key creation and updates with Meilisearch codes', async () => {
    const store = await KeyStore.open(path.join(dir, 'keys.json'), MASTER)
    await expect(store.create({ indexes: ['*'], expiresAt: null })).rejects.toMatchObject({
      code: 'missing_api_key_actions',
    })
    await expect(store.create({ actions: ['fly'], indexes: ['*'], expiresAt: null })).rejects.toMatchObject({
      code: 'invalid_api_key_actions',
    })
    await expect(
      store.create({ actions: ['*'], indexes: ['*'], expiresAt: '2001-01-01T00:00:00Z' }),
    ).rejects.toMatchObject({
      code: 'invalid_api_key_expires_at',
    })
    const key = await store.create({ actions: ['*'], indexes: ['*'], expiresAt: null })
    await expect(store.update(key.uid, { actions: ['search'] })).rejects.toMatchObject({
      code: 'immutable_api_key_actions',
    })
    expect((await store.update(key.uid, { name: 'renamed' })).name).toBe('renamed')
    await store.delete(key.uid)
    expect(codeOf(() => store.get(key.uid))).toBe('api_key_not_found')
  })

  it('without a master key leaves the API open but refuses /keys', async () => {
    const store = await KeyStore.open(path.join(dir, 'keys.json'), undefined)
    expect(store.authorize(undefined, 'documents.add', 'movies').allIndexes).toBe(true)
    expect(codeOf(() => store.authorize(undefined, 'keys.get', null))).toBe('missing_master_key')
  })
})

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  DocumentNotFoundError,
  type Engine,
  IndexAlreadyExistsError,
  IndexNotFoundError,
  InvalidDocumentError,
  InvalidSettingsError,
  open,
} from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

let engine: Engine
let dir: string

beforeEach(async () => {
  dir = await tempDir()
  engine = await open(dir, { sync: 'none' })
})

afterEach(async () => {
  await engine.close()
  await removeDir(dir)
})

describe('indexes', () => {
  it('creates, lists sorted, gets and deletes indexes', async () => {
    await engine.createIndex('zeta')
    const info = await engine.createIndex('alpha', { primaryKey: 'sku' })
    expect(info).toMatchObject({ uid: 'alpha', primaryKey: 'sku' })
    expect(engine.listIndexes().map((i) => i.uid)).toEqual(['alpha', 'zeta'])
    expect(engine.hasIndex('zeta')).toBe(true)
    await engine.deleteIndex('zeta')
    expect(() => engine.getIndex('zeta')).toThrow(IndexNotFoundError)
    expect(() => engine.index('zeta')).toThrow(
      expect.objectContaining({ code: 'index_not_found', httpStatus: 404 }),
    )
  })
  it('rejects a duplicate uid and an invalid uid', async () => {
    await engine.createIndex('movies')
    await expect(engine.createIndex('movies')).rejects.toThrow(IndexAlreadyExistsError)
    await expect(engine.createIndex('bad uid!')).rejects.toThrow(
      expect.objectContaining({ code: 'invalid_index_uid' }),
    )
  })
  it('changes the primary key only while the index is empty', async () => {
    await engine.createIndex('movies')
    expect((await engine.updateIndex('movies', { primaryKey: 'ref' })).primaryKey).toBe('ref')
    await engine.index('movies').addDocuments([{ ref: 1 }])
    await expect(engine.updateIndex('movies', { primaryKey: 'other' })).rejects.toThrow(
      expect.objectContaining({ code: 'index_primary_key_already_exists' }),
    )
  })
})

describe('primary key inference (as Meilisearch)', () => {
  it('takes the one attribute ending in id', async () => {
    await engine.createIndex('m')
    const result = await engine.index('m').addDocuments([{ title: 'x', movieId: 7 }])
    expect(result.primaryKey).toBe('movieId')
    expect(engine.getIndex('m').primaryKey).toBe('movieId')
  })
  it('fails with no candidate or several candidates', async () => {
    await engine.createIndex('m')
    await expect(engine.index('m').addDocuments([{ title: 'x' }])).rejects.toThrow(
      expect.objectContaining({ code: 'primary_key_inference_failed' }),
    )
    await expect(engine.index('m').addDocuments([{ id: 1, userId: 2 }])).rejects.toThrow(
      expect.objectContaining({ code: 'index_primary_key_multiple_candidates_found' }),
    )
    expect(engine.getIndex('m').primaryKey).toBeNull()
  })
})

describe('documents', () => {
  beforeEach(async () => {
    await engine.createIndex('movies', { primaryKey: 'id' })
  })

  it('adds, replaces and gets documents; numeric and string ids are one key space', async () => {
    const movies = engine.index('movies')
    await movies.addDocuments([
      { id: 1, title: 'Alien', meta: { year: 1979 } },
      { id: 'b-2', title: 'Brazil' },
    ])
    expect(movies.getDocument(1)).toEqual({ id: 1, title: 'Alien', meta: { year: 1979 } })
    expect(movies.getDocument('1', { fields: ['title'] })).toEqual({ title: 'Alien' })
    expect(movies.getDocument(1, { fields: ['meta.year'] })).toEqual({ meta: { year: 1979 } })
    await movies.addDocuments([{ id: 1, title: 'Aliens' }])
    expect(movies.getDocument(1)).toEqual({ id: 1, title: 'Aliens' })
    expect(() => movies.getDocument(99)).toThrow(DocumentNotFoundError)
  })
  it('updateDocuments merges top-level fields', async () => {
    const movies = engine.index('movies')
    await movies.addDocuments([{ id: 1, title: 'Alien', year: 1979 }])
    await movies.updateDocuments([
      { id: 1, year: 1980, genre: 'sf' },
      { id: 2, title: 'new' },
    ])
    expect(movies.getDocument(1)).toEqual({ id: 1, title: 'Alien', year: 1980, genre: 'sf' })
    expect(movies.getDocument(2)).toEqual({ id: 2, title: 'new' })
  })
  it('the last duplicate of a batch wins', async () => {
    const movies = engine.index('movies')
    await movies.addDocuments([
      { id: 1, title: 'first' },
      { id: 1, title: 'second' },
    ])
    expect(movies.getDocuments().total).toBe(1)
    expect(movies.getDocument(1).title).toBe('second')
  })
  it('pages documents with offset, limit, fields and filter', async () => {
    const movies = engine.index('movies')
    await movies.updateSettings({ filterableAttributes: ['n'] })
    await movies.addDocuments(Array.from({ length: 30 }, (_, i) => ({ id: i, n: i % 3, title: `t${i}` })))
    const page = movies.getDocuments({ offset: 5, limit: 3, fields: ['id'] })
    expect(page).toEqual({ results: [{ id: 5 }, { id: 6 }, { id: 7 }], offset: 5, limit: 3, total: 30 })
    expect(movies.getDocuments({ filter: 'n = 1', limit: 100 }).total).toBe(10)
  })
  it('deletes one, many, by filter and all', async () => {
    const movies = engine.index('movies')
    await movies.updateSettings({ filterableAttributes: ['n'] })
    await movies.addDocuments(Array.from({ length: 10 }, (_, i) => ({ id: i, n: i % 2 })))
    expect(await movies.deleteDocument(0)).toEqual({ deletedDocuments: 1 })
    expect(await movies.deleteDocuments([1, 2, 99])).toEqual({ deletedDocuments: 2 })
    expect(await movies.deleteDocumentsByFilter('n = 1')).toEqual({ deletedDocuments: 4 })
    expect(movies.getDocuments().results.map((d) => d.id)).toEqual([4, 6, 8])
    expect(await movies.deleteAllDocuments()).toEqual({ deletedDocuments: 3 })
    expect(movies.getDocuments().total).toBe(0)
    expect(movies.search({ q: '' }).hits).toEqual([])
  })
  it('rejects a whole batch when one document is invalid, naming it', async () => {
    const movies = engine.index('movies')
    await movies.addDocuments([{ id: 1, title: 'keep' }])
    const bad = [{ id: 2 }, { title: 'no id' }, { id: 3 }]
    const error = await movies.addDocuments(bad).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidDocumentError)
    expect(error).toMatchObject({ code: 'missing_document_id', documentIndex: 1, httpStatus: 400 })
    await expect(movies.addDocuments([{ id: 'no spaces allowed' }])).rejects.toThrow(
      expect.objectContaining({ code: 'invalid_document_id' }),
    )
    await expect(movies.addDocuments([{ id: 1.5 }])).rejects.toThrow(
      expect.objectContaining({ code: 'invalid_document_id' }),
    )
    await expect(movies.addDocuments([{ id: 4 }, 'not an object' as unknown as object])).rejects.toThrow(
      expect.objectContaining({ code: 'invalid_document_fields' }),
    )
    expect(movies.getDocuments().results).toEqual([{ id: 1, title: 'keep' }])
  })
  it('rejects a vector of the wrong dimension, applying nothing', async () => {
    const movies = engine.index('movies')
    await movies.updateSettings({ embedders: { e: { source: 'userProvided', dimensions: 3 } } })
    await expect(
      movies.addDocuments([
        { id: 1, _vectors: { e: [1, 0, 0] } },
        { id: 2, _vectors: { e: [1, 0] } },
      ]),
    ).rejects.toThrow(expect.objectContaining({ code: 'invalid_vector_dimensions', documentIndex: 1 }))
    expect(movies.getDocuments().total).toBe(0)
  })
  it('reports stats with the field distribution', async () => {
    const movies = engine.index('movies')
    await movies.addDocuments([
      { id: 1, a: 1 },
      { id: 2, a: 2, b: 3 },
    ])
    expect(engine.stats().indexes.movies).toEqual({
      numberOfDocuments: 2,
      isIndexing: false,
      fieldDistribution: { a: 2, b: 1, id: 2 },
    })
    expect(engine.stats().databaseSize).toBeGreaterThan(0)
  })
})

describe('settings', () => {
  beforeEach(async () => {
    await engine.createIndex('movies', { primaryKey: 'id' })
  })
  it('starts at the Meilisearch defaults and resets with null', async () => {
    const movies = engine.index('movies')
    expect(movies.getSettings()).toMatchObject({
      searchableAttributes: ['*'],
      displayedAttributes: ['*'],
      filterableAttributes: [],
      typoTolerance: { enabled: true, minWordSizeForTypos: { oneTypo: 5, twoTypos: 9 } },
      embedders: {},
    })
    await movies.updateSettings({ filterableAttributes: ['genre'], stopWords: ['the'] })
    expect((await movies.updateSettings({ filterableAttributes: null })).filterableAttributes).toEqual([])
    expect(movies.getSettings().stopWords).toEqual(['the'])
    expect((await movies.resetSettings()).stopWords).toEqual([])
  })
  it('rejects bad settings with invalid_settings_* codes', async () => {
    const movies = engine.index('movies')
    await expect(
      movies.updateSettings({ filterableAttributes: 'genre' as unknown as string[] }),
    ).rejects.toThrow(expect.objectContaining({ code: 'invalid_settings_filterable_attributes' }))
    await expect(
      movies.updateSettings({ embedders: { e: { source: 'userProvided', dimensions: 0 } } }),
    ).rejects.toThrow(InvalidSettingsError)
    await expect(
      movies.updateSettings({ typoTolerance: { enabled: 'yes' as unknown as boolean } }),
    ).rejects.toThrow(expect.objectContaining({ code: 'invalid_settings_typo_tolerance' }))
  })
  it('displayedAttributes limits what hits and documents show', async () => {
    const movies = engine.index('movies')
    await movies.addDocuments([{ id: 1, title: 'Alien', secret: 's' }])
    await movies.updateSettings({ displayedAttributes: ['id', 'title'] })
    expect(movies.search({}).hits).toEqual([{ id: 1, title: 'Alien' }])
    expect(movies.search({ attributesToRetrieve: ['title', 'secret'] }).hits).toEqual([{ title: 'Alien' }])
  })
  it('filterableAttributes set after documents exist index those documents', async () => {
    const movies = engine.index('movies')
    await movies.addDocuments([
      { id: 1, genre: 'sf' },
      { id: 2, genre: 'drama' },
    ])
    await movies.updateSettings({ filterableAttributes: ['genre'] })
    expect(movies.search({ filter: 'genre = sf' }).hits).toEqual([{ id: 1, genre: 'sf' }])
  })
})

describe('keyword search', () => {
  beforeEach(async () => {
    await engine.createIndex('pkgs', { primaryKey: 'id' })
    await engine.index('pkgs').addDocuments([
      { id: 1, name: 'nginx', summary: 'small, powerful, scalable web/proxy server' },
      { id: 2, name: 'apache2', summary: 'Apache HTTP Server' },
      { id: 3, name: 'vim', summary: 'Vi IMproved - enhanced vi editor' },
      { id: 4, name: 'emacs', summary: 'GNU Emacs editor' },
    ])
  })
  it('ranks by BM25, with prefix on the last term and typo tolerance', () => {
    const pkgs = engine.index('pkgs')
    expect(
      pkgs
        .search({ q: 'editor' })
        .hits.map((h) => h.id)
        .sort(),
    ).toEqual([3, 4])
    expect(pkgs.search({ q: 'web serv' }).hits[0]!.id).toBe(1)
    expect(pkgs.search({ q: 'emcas' }).hits.map((h) => h.id)).toEqual([4])
    const result = pkgs.search({ q: 'server', showRankingScore: true })
    expect(result.hits.length).toBe(2)
    expect(result.hits[0]!._rankingScore).toBe(1)
    expect(result.query).toBe('server')
    expect(result.estimatedTotalHits).toBe(2)
  })
  it('typo tolerance can be switched off', async () => {
    const pkgs = engine.index('pkgs')
    await pkgs.updateSettings({ typoTolerance: { enabled: false } })
    expect(pkgs.search({ q: 'emcas' }).hits).toEqual([])
  })
  it('searchableAttributes restricts the fields searched', async () => {
    const pkgs = engine.index('pkgs')
    await pkgs.updateSettings({ searchableAttributes: ['name'] })
    expect(pkgs.search({ q: 'editor' }).hits).toEqual([])
    expect(pkgs.search({ q: 'vim' }).hits.map((h) => h.id)).toEqual([3])
  })
  it('stop words are ignored in queries', async () => {
    const pkgs = engine.index('pkgs')
    await pkgs.updateSettings({ stopWords: ['gnu'] })
    expect(pkgs.search({ q: 'gnu' }).hits).toEqual([])
  })
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Engine, type Index, open } from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

// Meilisearch's dictionary, separatorTokens, nonSeparatorTokens, proximityPrecision and
// localizedAttributes settings (reference/api/settings): stored with their defaults, reset by
// null, and in effect on documents indexed before the change (the text index is rebuilt).

const DOCS = [
  { id: 1, title: 'Programming in C# and F#', body: 'by J. R. R. Tolkien' },
  { id: 2, title: 'Programming in C', body: 'salt&seppepper' },
  { id: 3, title: 'Notes', body: 'The quick brown fox', tags: 'jumps over the lazy dog' },
  { id: 4, title: 'Fox notes', body: 'a brown dog and a quick fox' },
]

const ids = (index: Index, params: Parameters<Index['search']>[0]) =>
  index.search(params).hits.map((h) => h.id)

describe('analyser settings', () => {
  let dir: string
  let engine: Engine
  let books: Index

  beforeAll(async () => {
    dir = await tempDir()
    engine = await open(dir, { sync: 'none' })
    await engine.createIndex('books', { primaryKey: 'id' })
    books = engine.index('books')
    await books.addDocuments(DOCS)
  })

  afterAll(async () => {
    await engine.close()
    await removeDir(dir)
  })

  it("has Meilisearch's defaults", () => {
    expect(books.getSettings()).toMatchObject({
      dictionary: [],
      separatorTokens: [],
      nonSeparatorTokens: [],
      proximityPrecision: 'byWord',
      localizedAttributes: null,
    })
  })

  it('nonSeparatorTokens make C# a word of the documents already indexed, and highlight it whole', async () => {
    expect(ids(books, { q: 'c#' }).sort()).toEqual([1, 2])
    await books.updateSettings({ nonSeparatorTokens: ['#'] })
    expect(books.getSettings().nonSeparatorTokens).toEqual(['#'])
    expect(ids(books, { q: 'c#' })).toEqual([1])
    const hit = books.search({ q: 'c#', attributesToHighlight: ['title'] }).hits[0]!
    expect((hit._formatted as { title: string }).title).toBe('Programming in <em>C#</em> and F#')
    await books.updateSettings({ nonSeparatorTokens: null })
    expect(ids(books, { q: 'c#' }).sort()).toEqual([1, 2])
  })

  it('separatorTokens cut words where they stand', async () => {
    expect(ids(books, { q: 'pepper' })).toEqual([])
    await books.updateSettings({ separatorTokens: ['&sep'] })
    expect(ids(books, { q: 'pepper' })).toEqual([2])
    await books.updateSettings({ separatorTokens: null })
    expect(ids(books, { q: 'pepper' })).toEqual([])
  })

  it('a dictionary entry is one word, found and highlighted whole', async () => {
    await books.updateSettings({ dictionary: ['J. R. R.'] })
    expect(books.getSettings().dictionary).toEqual(['J. R. R.'])
    const hit = books.search({ q: 'j. r. r.', attributesToHighlight: ['body'] }).hits[0]!
    expect(hit.id).toBe(1)
    expect((hit._formatted as { body: string }).body).toBe('by <em>J. R. R.</em> Tolkien')
    await books.resetSettings()
    expect(books.getSettings().dictionary).toEqual([])
  })

  it('proximityPrecision byAttribute: a phrase matches its words anywhere in one attribute', async () => {
    expect(ids(books, { q: '"quick fox"' })).toEqual([4])
    await books.updateSettings({ proximityPrecision: 'byAttribute' })
    expect(books.getSettings().proximityPrecision).toBe('byAttribute')
    expect(ids(books, { q: '"quick fox"' }).sort()).toEqual([3, 4])
    // Words in two different attributes do not make the phrase.
    expect(ids(books, { q: '"quick lazy"' })).toEqual([])
    await books.updateSettings({ proximityPrecision: null })
    expect(ids(books, { q: '"quick fox"' })).toEqual([4])
  })

  it('accepts localizedAttributes for locales Shoal honours and refuses the others with the reason', async () => {
    const rules = [{ attributePatterns: ['title', 'body'], locales: ['fra', 'eng'] }]
    await books.updateSettings({ localizedAttributes: rules })
    expect(books.getSettings().localizedAttributes).toEqual([
      { attributePatterns: ['title', 'body'], locales: ['eng', 'fra'] },
    ])
    await expect(
      books.updateSettings({ localizedAttributes: [{ attributePatterns: ['*'], locales: ['jpn'] }] }),
    ).rejects.toMatchObject({
      code: 'invalid_settings_localized_attributes',
      message: /cannot honour locale `jpn`/,
    })
    await expect(
      books.updateSettings({ localizedAttributes: [{ attributePatterns: ['*'], locales: ['xx'] }] }),
    ).rejects.toMatchObject({ code: 'invalid_settings_localized_attributes', message: /unknown locale/ })
    await books.updateSettings({ localizedAttributes: null })
    expect(books.getSettings().localizedAttributes).toBeNull()
  })

  it.each([
    [{ dictionary: [''] }, 'invalid_settings_dictionary'],
    [{ separatorTokens: 'x' }, 'invalid_settings_separator_tokens'],
    [{ nonSeparatorTokens: [' '] }, 'invalid_settings_non_separator_tokens'],
    [{ proximityPrecision: 'byLine' }, 'invalid_settings_proximity_precision'],
    [
      { localizedAttributes: [{ attributePatterns: ['a'], locales: ['eng'], other: 1 }] },
      'invalid_settings_localized_attributes',
    ],
  ])('refuses %j with %s', async (update, code) => {
    await expect(books.updateSettings(update as never)).rejects.toMatchObject({ code })
  })

  it('keeps the settings and their effect across a restart', async () => {
    await books.updateSettings({ nonSeparatorTokens: ['#'] })
    await engine.close()
    engine = await open(dir, { sync: 'none' })
    books = engine.index('books')
    expect(books.getSettings().nonSeparatorTokens).toEqual(['#'])
    expect(ids(books, { q: 'c#' })).toEqual([1])
  })
})

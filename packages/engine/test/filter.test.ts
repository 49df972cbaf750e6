import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Engine, type Index, InvalidFilterError } from '../src/index.ts'
import { MAX_FILTER_DEPTH, parseFilter } from '../src/internal/filter/parse.ts'
import { referenceEngine, removeDir } from './helpers.ts'

// Meilisearch filter semantics: https://www.meilisearch.com/docs/learn/filtering_and_sorting/filter_expression_reference
const DOCS = [
  {
    id: 1,
    genre: 'Action',
    price: 10,
    tags: ['a', 'b'],
    rating: null,
    meta: { year: 2001, lang: 'en' },
    note: '',
  },
  { id: 2, genre: 'drama', price: 25.5, tags: [], rating: 4, meta: { year: 1999, lang: 'fr' }, note: 'x' },
  {
    id: 3,
    genre: 'action',
    price: 40,
    tags: ['b'],
    rating: 5,
    meta: { year: 2020, lang: 'en' },
    available: true,
  },
  { id: 4, genre: 'Comedy', price: 5, rating: 3, meta: {}, available: false, code: '42' },
  { id: 5, title: 'no genre', price: 100, code: 42 },
]

let engine: Engine
let dir: string
let index: Index

beforeEach(async () => {
  ;({ engine, dir } = await referenceEngine())
  await engine.createIndex('movies', {
    settings: {
      filterableAttributes: ['genre', 'price', 'tags', 'rating', 'meta', 'available', 'note', 'code'],
    },
  })
  index = engine.index('movies')
  await index.addDocuments(DOCS)
})

afterEach(async () => {
  await engine.close()
  await removeDir(dir)
})

function ids(filter: string | (string | string[])[]): number[] {
  return index.search({ filter, limit: 100 }).hits.map((h) => h.id as number)
}

describe('filter operators', () => {
  it('= compares strings case-insensitively and matches array elements', () => {
    expect(ids('genre = action')).toEqual([1, 3])
    expect(ids('tags = b')).toEqual([1, 3])
  })
  it('= on a number matches numeric and string values', () => {
    expect(ids('code = 42')).toEqual([4, 5])
    expect(ids('price = 10')).toEqual([1])
  })
  it('!= is the complement, including documents without the attribute', () => {
    expect(ids('genre != action')).toEqual([2, 4, 5])
  })
  it('> >= < <= compare numbers', () => {
    expect(ids('price > 25.5')).toEqual([3, 5])
    expect(ids('price >= 25.5')).toEqual([2, 3, 5])
    expect(ids('price < 10')).toEqual([4])
    expect(ids('price <= 10')).toEqual([1, 4])
  })
  it('TO is an inclusive range', () => {
    expect(ids('price 10 TO 40')).toEqual([1, 2, 3])
  })
  it('IN and NOT IN', () => {
    expect(ids('genre IN [drama, comedy]')).toEqual([2, 4])
    expect(ids('genre NOT IN [drama, comedy]')).toEqual([1, 3, 5])
  })
  it('EXISTS and NOT EXISTS', () => {
    expect(ids('genre EXISTS')).toEqual([1, 2, 3, 4])
    expect(ids('genre NOT EXISTS')).toEqual([5])
    expect(ids('rating EXISTS')).toEqual([1, 2, 3, 4])
  })
  it('IS NULL and IS NOT NULL', () => {
    expect(ids('rating IS NULL')).toEqual([1])
    expect(ids('rating IS NOT NULL')).toEqual([2, 3, 4, 5])
  })
  it('IS EMPTY and IS NOT EMPTY', () => {
    expect(ids('tags IS EMPTY')).toEqual([2])
    expect(ids('note IS EMPTY')).toEqual([1])
    expect(ids('meta IS EMPTY')).toEqual([4])
    expect(ids('tags IS NOT EMPTY')).toEqual([1, 3, 4, 5])
  })
  it('booleans compare as true/false', () => {
    expect(ids('available = true')).toEqual([3])
    expect(ids('available = false')).toEqual([4])
  })
  it('nested attributes are addressed with dots', () => {
    expect(ids('meta.lang = en')).toEqual([1, 3])
    expect(ids('meta.year > 2000')).toEqual([1, 3])
  })
  it('AND binds tighter than OR; NOT and parentheses', () => {
    expect(ids('genre = drama OR genre = action AND price > 20')).toEqual([2, 3])
    expect(ids('(genre = drama OR genre = action) AND price > 20')).toEqual([2, 3])
    expect(ids('NOT genre = action')).toEqual([2, 4, 5])
    expect(ids('NOT (price > 20 OR genre = action)')).toEqual([4])
  })
  it('quoted values keep spaces and escapes', () => {
    expect(ids("genre = 'Action'")).toEqual([1, 3])
    expect(ids('genre = "drama"')).toEqual([2])
  })
  it('array form: outer items AND, inner arrays OR', () => {
    expect(ids([['genre = drama', 'genre = comedy'], 'price < 20'])).toEqual([4])
    expect(ids(['genre = action', 'price > 20'])).toEqual([3])
  })
  it('keywords are case-insensitive', () => {
    expect(ids('genre = drama or genre = comedy and price < 20')).toEqual([2, 4])
  })
})

describe('filter errors', () => {
  function errorOf(filter: string): InvalidFilterError {
    try {
      parseFilter(filter)
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidFilterError)
      return error as InvalidFilterError
    }
    throw new Error(`no error for ${filter}`)
  }

  it('a missing value names its position', () => {
    const error = errorOf('genre = ')
    expect(error.code).toBe('invalid_search_filter')
    expect(error.httpStatus).toBe(400)
    expect(error.position).toEqual({ start: 8, end: 8 })
    expect(error.message).toContain('9:9')
  })
  it('a missing operator names the attribute', () => {
    const error = errorOf('genre action')
    expect(error.position?.start).toBe(0)
    expect(error.message).toContain('Was expecting an operation')
  })
  it('an unclosed parenthesis names where it opened', () => {
    expect(errorOf('(genre = a OR genre = b').position?.start).toBe(0)
  })
  it('an unclosed quote names where it opened', () => {
    expect(errorOf("genre = 'abc").position).toEqual({ start: 8, end: 12 })
  })
  it('trailing garbage is reported where it starts', () => {
    expect(errorOf('genre = a genre = b').position?.start).toBe(10)
  })
  it('IS must be followed by NULL or EMPTY', () => {
    expect(errorOf('genre IS FULL').position).toEqual({ start: 9, end: 13 })
  })
  it('a dangling AND reports the end', () => {
    expect(errorOf('genre = a AND').position).toEqual({ start: 13, end: 13 })
  })
  it('an attribute that is not filterable is reported with its position', () => {
    let caught: unknown
    try {
      index.search({ filter: 'price > 1 AND title = x' })
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(InvalidFilterError)
    expect((caught as InvalidFilterError).position).toEqual({ start: 14, end: 19 })
    expect((caught as InvalidFilterError).message).toContain('not filterable')
  })
  it('a range on a non-number is an error', () => {
    expect(() => index.search({ filter: 'price > cheap' })).toThrow(InvalidFilterError)
  })
  it('the documents route reports invalid_document_filter', () => {
    expect(() => index.getDocuments({ filter: 'genre =' })).toThrow(
      expect.objectContaining({ code: 'invalid_document_filter' }),
    )
  })
  // Regression: a filter nested thousands of levels deep overflowed the stack (an internal error).
  it('nesting deeper than MAX_FILTER_DEPTH is an invalid_search_filter error, not a crash', () => {
    const deep = `${'('.repeat(50_000)}genre = a${')'.repeat(50_000)}`
    expect(() => index.search({ filter: deep })).toThrow(
      expect.objectContaining({ code: 'invalid_search_filter', message: expect.stringContaining('depth') }),
    )
    expect(() => index.search({ filter: `${'NOT '.repeat(50_000)}genre = a` })).toThrow(InvalidFilterError)
  })
  it('nesting up to MAX_FILTER_DEPTH still parses', () => {
    const levels = MAX_FILTER_DEPTH - 1
    const nested = `${'('.repeat(levels)}NOT genre = drama${')'.repeat(levels)}`
    expect(index.search({ filter: nested }).hits.map((h) => h.id)).not.toContain(2)
  })
})

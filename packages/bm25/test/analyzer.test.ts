import { describe, expect, it } from 'vitest'
import { Bm25ConfigError, createAnalyzer, normalizeText } from '../src/index.ts'

describe('analyzer', () => {
  const en = createAnalyzer()
  const plain = createAnalyzer({ locale: 'none' })

  it('folds diacritics and case in Latin text', () => {
    expect(plain.tokens('Crème Brûlée à la CAFÉ Ångström naïve')).toEqual([
      'creme',
      'brulee',
      'a',
      'la',
      'cafe',
      'angstrom',
      'naive',
    ])
  })

  it('applies Unicode compatibility normalisation (ligatures, full-width forms)', () => {
    expect(plain.tokens('ﬁle ＡＢＣ')).toEqual(['file', 'abc'])
    expect(normalizeText('Ｅｃｏｌｅ')).toBe('ecole')
  })

  it('keeps Cyrillic words whole and lower-cases them', () => {
    expect(plain.tokens('Привет, Мир! Ёлка')).toEqual(['привет', 'мир', 'елка'])
  })

  it('segments Chinese and Japanese text without spaces into words (Intl.Segmenter)', () => {
    const zh = plain.tokens('我喜欢学习中文')
    expect(zh.length).toBeGreaterThan(1)
    expect(zh.join('')).toBe('我喜欢学习中文')
    const ja = createAnalyzer({ locale: 'ja' }).tokens('東京タワーに行きました')
    expect(ja[0]!.startsWith('東京')).toBe(true)
    expect(ja).toContain('行き')
    expect(ja.join('')).toBe('東京タワーに行きました')
  })

  it('keeps emoji as tokens of their own and drops punctuation', () => {
    expect(plain.tokens('I ❤️ pizza 🍕!!')).toEqual(['i', '❤', 'pizza', '🍕'])
  })

  it('stems English words with Porter and leaves locale none unstemmed', () => {
    expect(en.tokens('running libraries connected')).toEqual(['run', 'librari', 'connect'])
    expect(plain.tokens('running libraries')).toEqual(['running', 'libraries'])
  })

  it('drops English stop words only when asked, and accepts a custom list', () => {
    expect(en.tokens('the quick fox')).toEqual(['the', 'quick', 'fox'])
    expect(createAnalyzer({ stopwords: true }).tokens('the quick fox and the dog')).toEqual([
      'quick',
      'fox',
      'dog',
    ])
    expect(createAnalyzer({ locale: 'none', stopwords: ['Fox'] }).tokens('the quick fox')).toEqual([
      'the',
      'quick',
    ])
  })

  it('keeps a trailing stop word in a query (it may be a half-typed word)', () => {
    const analyzer = createAnalyzer({ stopwords: true })
    expect(analyzer.queryTokens('the quick the').map((t) => t.surface)).toEqual(['quick', 'the'])
    expect(analyzer.queryTokens('running')).toEqual([{ term: 'run', surface: 'running' }])
  })

  it('rejects stemming or the English stop list for other locales', () => {
    expect(() => createAnalyzer({ locale: 'fr', stemming: true })).toThrow(Bm25ConfigError)
    expect(() => createAnalyzer({ locale: 'none', stopwords: true })).toThrow(Bm25ConfigError)
    expect(() => createAnalyzer({ stopwords: [1 as unknown as string] })).toThrow(Bm25ConfigError)
  })
})

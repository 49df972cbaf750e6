import { describe, expect, it } from 'vitest'
import { Bm25ConfigError, createAnalyzer } from '../src/index.ts'

// Meilisearch's dictionary, separatorTokens and nonSeparatorTokens settings
// (reference/api/settings): custom tokens change how text is cut into words.

describe('custom tokens', () => {
  it('keeps a dictionary entry as one word, case-insensitively', () => {
    const a = createAnalyzer({ locale: 'none', dictionary: ['J. R. R.', 'C++'] })
    expect(a.tokens('J. R. R. Tolkien writes in c++ daily')).toEqual([
      'j. r. r.',
      'tolkien',
      'writes',
      'in',
      'c++',
      'daily',
    ])
    // Without it the same text falls apart at the punctuation.
    expect(createAnalyzer({ locale: 'none' }).tokens('J. R. R. Tolkien and C++')).toEqual([
      'j',
      'r',
      'r',
      'tolkien',
      'and',
      'c',
    ])
  })

  it('takes a dictionary entry only at a word boundary', () => {
    const a = createAnalyzer({ locale: 'none', dictionary: ['new york'] })
    expect(a.tokens('New York newyorker renew york')).toEqual(['new york', 'newyorker', 'renew', 'york'])
  })

  it('cuts words at separator tokens, letters included', () => {
    const a = createAnalyzer({ locale: 'none', separatorTokens: ['&sep', '|'] })
    expect(a.tokens('salt&seppepper red|green')).toEqual(['salt', 'pepper', 'red', 'green'])
  })

  it('keeps non-separator tokens inside words', () => {
    const a = createAnalyzer({ locale: 'none', nonSeparatorTokens: ['#', '@'] })
    expect(a.tokens('C# and F# by @ada')).toEqual(['c#', 'and', 'f#', 'by', '@ada'])
    expect(createAnalyzer({ locale: 'none' }).tokens('C# by @ada')).toEqual(['c', 'by', 'ada'])
  })

  it('answers word spans of the original text, what tokens normalises', () => {
    const a = createAnalyzer({ locale: 'none', nonSeparatorTokens: ['#'], dictionary: ['Crème brûlée'] })
    const text = 'Crème Brûlée in C#!'
    const spans = a.spans(text)
    expect(spans.map((s) => text.slice(s.start, s.end))).toEqual(['Crème Brûlée', 'in', 'C#'])
    expect(a.tokens(text)).toEqual(['creme brulee', 'in', 'c#'])
    // Scripts written without spaces are still segmented as without custom tokens.
    expect(a.tokens('我喜欢学习中文')).toEqual(createAnalyzer({ locale: 'none' }).tokens('我喜欢学习中文'))
    expect(a.customTokens).toBe(true)
    expect(createAnalyzer().customTokens).toBe(false)
  })

  it('refuses tokens that are not non-empty strings', () => {
    expect(() => createAnalyzer({ dictionary: [''] })).toThrow(Bm25ConfigError)
    expect(() => createAnalyzer({ separatorTokens: [1 as unknown as string] })).toThrow(Bm25ConfigError)
  })
})

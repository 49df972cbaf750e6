/**
 * Word segmentation with custom tokens, as Meilisearch's `dictionary`, `separatorTokens` and
 * `nonSeparatorTokens` settings define them. A scan over the original text, longest token
 * first at each position:
 *
 *   1. a dictionary entry starting where no word is open, and ending at a word boundary, is one
 *      word as a whole (`J. R. R.`, `C++`);
 *   2. a separator token ends the open word (`&`, `|`, or letters such as `sep`);
 *   3. a non-separator token continues (or opens) a word (`#` makes `C#` one word, `@`, `-`);
 *   4. otherwise letters, digits and their marks form words, a pictograph is a word on its own,
 *      and anything else separates.
 *
 * Tokens are compared case-insensitively (`toLowerCase` of the same number of UTF-16 units). Runs
 * of scripts written without spaces are then segmented by `Intl.Segmenter`, except dictionary
 * entries. Spans are offsets into the original text, so highlighting and phrase checks see the
 * same words as the index.
 */

/** One word of a text: `[start, end)` in UTF-16 code units of the original text. */
export interface TextSpan {
  start: number
  end: number
}

export interface CustomTokens {
  dictionary: readonly string[]
  separatorTokens: readonly string[]
  nonSeparatorTokens: readonly string[]
}

const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u
const PICTOGRAPH = /\p{Extended_Pictographic}/u
const NO_SPACE_SCRIPT =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u

type Kind = 'dictionary' | 'separator' | 'nonSeparator'

interface Token {
  lower: string
  kind: Kind
}

/** Tokens by their first lower-case UTF-16 unit, longest first. */
function tokenTable(tokens: CustomTokens): Map<string, Token[]> {
  const table = new Map<string, Token[]>()
  const add = (list: readonly string[], kind: Kind) => {
    for (const token of list) {
      if (token.length === 0) continue
      const lower = token.toLowerCase()
      const bucket = table.get(lower[0]!) ?? []
      bucket.push({ lower, kind })
      table.set(lower[0]!, bucket)
    }
  }
  // At equal length, a dictionary entry wins over a separator, a separator over a non-separator.
  add(tokens.dictionary, 'dictionary')
  add(tokens.separatorTokens, 'separator')
  add(tokens.nonSeparatorTokens, 'nonSeparator')
  for (const bucket of table.values()) bucket.sort((a, b) => b.lower.length - a.lower.length)
  return table
}

export function createSpanner(tokens: CustomTokens, segmenter: Intl.Segmenter): (text: string) => TextSpan[] {
  const table = tokenTable(tokens)
  const isWordChar = (text: string, at: number) => at < text.length && WORD_CHAR.test(codePointAt(text, at))

  const tokenAt = (text: string, at: number, wordOpen: boolean): Token | undefined => {
    const bucket = table.get(text[at]!.toLowerCase())
    if (bucket === undefined) return undefined
    for (const token of bucket) {
      const end = at + token.lower.length
      if (end > text.length || text.slice(at, end).toLowerCase() !== token.lower) continue
      if (token.kind === 'dictionary') {
        const lastIsWord = WORD_CHAR.test(token.lower[token.lower.length - 1]!)
        if (wordOpen || (lastIsWord && isWordChar(text, end))) continue
      }
      return token
    }
    return undefined
  }

  return (text) => {
    const spans: TextSpan[] = []
    let open = -1
    const close = (end: number) => {
      if (open >= 0) segmentInto(text, open, end, segmenter, spans)
      open = -1
    }
    let at = 0
    while (at < text.length) {
      const token = tokenAt(text, at, open >= 0)
      if (token !== undefined) {
        const end = at + token.lower.length
        if (token.kind === 'dictionary') spans.push({ start: at, end })
        else if (token.kind === 'separator') close(at)
        else if (open < 0) open = at
        at = end
        continue
      }
      const char = codePointAt(text, at)
      if (PICTOGRAPH.test(char) && !WORD_CHAR.test(char)) {
        close(at)
        spans.push({ start: at, end: at + char.length })
      } else if (WORD_CHAR.test(char)) {
        if (open < 0) open = at
      } else close(at)
      at += char.length
    }
    close(text.length)
    return spans
  }
}

function codePointAt(text: string, at: number): string {
  return String.fromCodePoint(text.codePointAt(at)!)
}

/** The span `[start, end)`, cut into words by the segmenter when it holds a no-space script. */
function segmentInto(
  text: string,
  start: number,
  end: number,
  segmenter: Intl.Segmenter,
  out: TextSpan[],
): void {
  const run = text.slice(start, end)
  if (!NO_SPACE_SCRIPT.test(run)) {
    out.push({ start, end })
    return
  }
  for (const segment of segmenter.segment(run)) {
    if (segment.isWordLike === true) {
      out.push({ start: start + segment.index, end: start + segment.index + segment.segment.length })
    }
  }
}

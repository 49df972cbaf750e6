/**
 * Meilisearch's filter language: tokenizer and recursive-descent parser.
 *
 *   expression := or
 *   or         := and ('OR' and)*
 *   and        := not ('AND' not)*
 *   not        := 'NOT' not | '(' expression ')' | condition
 *   condition  := attribute ( ('=' | '!=' | '>' | '>=' | '<' | '<=') value
 *                           | value 'TO' value
 *                           | ['NOT'] 'IN' '[' value (',' value)* [','] ']'
 *                           | ['NOT'] 'EXISTS'
 *                           | 'IS' ['NOT'] ('NULL' | 'EMPTY') )
 *
 * Values and attributes are bare words or quoted strings ('…' or "…", with
 * backslash escapes). Keywords are matched case-insensitively where the
 * grammar expects one. Every error names the span it found, as 0-based
 * offsets on `InvalidFilterError.position` and as `line:column` in the message.
 */

import { InvalidFilterError } from '../../errors.ts'
import type { Filter } from '../../types.ts'

export interface Span {
  start: number
  end: number
}

export interface FilterWord extends Span {
  text: string
  quoted: boolean
  /** The expression this word was read from (for error positions). */
  source: string
}

export type CompareOp = '=' | '!=' | '>' | '>=' | '<' | '<='

export type FilterNode =
  | { kind: 'and'; children: FilterNode[] }
  | { kind: 'or'; children: FilterNode[] }
  | { kind: 'not'; child: FilterNode }
  | { kind: 'compare'; attribute: FilterWord; op: CompareOp; value: FilterWord }
  | { kind: 'range'; attribute: FilterWord; low: FilterWord; high: FilterWord }
  | { kind: 'in'; attribute: FilterWord; values: FilterWord[] }
  | { kind: 'exists'; attribute: FilterWord }
  | { kind: 'null'; attribute: FilterWord }
  | { kind: 'empty'; attribute: FilterWord }

type TokenKind = 'word' | 'string' | 'op' | '(' | ')' | '[' | ']' | ',' | 'end'

interface Token extends Span {
  kind: TokenKind
  text: string
}

const SPECIAL = new Set(['=', '!', '<', '>', '(', ')', '[', ']', ',', '"', "'"])

function tokenize(source: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < source.length) {
    const c = source[i]!
    if (/\s/.test(c)) {
      i++
      continue
    }
    const start = i
    if (c === '(' || c === ')' || c === '[' || c === ']' || c === ',') {
      tokens.push({ kind: c, text: c, start, end: ++i })
    } else if (c === '=' || c === '<' || c === '>' || c === '!') {
      const two = source.slice(i, i + 2)
      if (two === '!=' || two === '>=' || two === '<=') i += 2
      else if (c === '!') throw filterError('Was expecting `!=` after `!`', source, { start, end: start + 1 })
      else i += 1
      tokens.push({ kind: 'op', text: source.slice(start, i), start, end: i })
    } else if (c === '"' || c === "'") {
      let text = ''
      i++
      while (i < source.length && source[i] !== c) {
        if (source[i] === '\\' && i + 1 < source.length) i++
        text += source[i]
        i++
      }
      if (i >= source.length) {
        throw filterError(
          `Expression \`${source.slice(start)}\` is missing the following closing delimiter: \`${c}\``,
          source,
          { start, end: source.length },
        )
      }
      i++
      tokens.push({ kind: 'string', text, start, end: i })
    } else {
      while (i < source.length && !/\s/.test(source[i]!) && !SPECIAL.has(source[i]!)) i++
      tokens.push({ kind: 'word', text: source.slice(start, i), start, end: i })
    }
  }
  tokens.push({ kind: 'end', text: '', start: source.length, end: source.length })
  return tokens
}

const OPERATION_LIST =
  '`=`, `!=`, `>=`, `>`, `<=`, `<`, `IN`, `NOT IN`, `TO`, `EXISTS`, `NOT EXISTS`, `IS NULL`, `IS NOT NULL`, `IS EMPTY`, `IS NOT EMPTY`'

/**
 * The deepest nesting of `NOT` and parentheses a filter may have (Meilisearch
 * also bounds it); the parser and the evaluator recurse once per level, so
 * the bound keeps a hostile filter from exhausting the stack.
 */
export const MAX_FILTER_DEPTH = 200

class Parser {
  readonly #source: string
  readonly #tokens: Token[]
  #at = 0
  #depth = 0

  constructor(source: string) {
    this.#source = source
    this.#tokens = tokenize(source)
  }

  parse(): FilterNode {
    const node = this.#or()
    const next = this.#peek()
    if (next.kind !== 'end') {
      throw this.#error(
        next.kind === ')' ? 'Found unexpected closing parenthesis `)`' : 'Found unexpected characters',
        { start: next.start, end: this.#source.length },
      )
    }
    return node
  }

  #peek(offset = 0): Token {
    return this.#tokens[Math.min(this.#at + offset, this.#tokens.length - 1)]!
  }

  #take(): Token {
    const token = this.#peek()
    if (token.kind !== 'end') this.#at++
    return token
  }

  #isKeyword(token: Token, keyword: string): boolean {
    return token.kind === 'word' && token.text.toUpperCase() === keyword
  }

  #error(message: string, span: Span): InvalidFilterError {
    return filterError(message, this.#source, span)
  }

  #or(): FilterNode {
    const children = [this.#and()]
    while (this.#isKeyword(this.#peek(), 'OR')) {
      this.#take()
      children.push(this.#and())
    }
    return children.length === 1 ? children[0]! : { kind: 'or', children }
  }

  #and(): FilterNode {
    const children = [this.#not()]
    while (this.#isKeyword(this.#peek(), 'AND')) {
      this.#take()
      children.push(this.#not())
    }
    return children.length === 1 ? children[0]! : { kind: 'and', children }
  }

  #not(): FilterNode {
    const token = this.#peek()
    const nests = this.#isKeyword(token, 'NOT') || token.kind === '('
    if (nests && ++this.#depth > MAX_FILTER_DEPTH) {
      throw new InvalidFilterError(
        `The filter exceeded the maximum depth limit of ${MAX_FILTER_DEPTH} nested \`NOT\` or parentheses. Try rewriting the filter so that it contains fewer nested conditions.`,
        { start: token.start, end: token.end },
      )
    }
    try {
      return this.#nested(token)
    } finally {
      if (nests) this.#depth--
    }
  }

  #nested(token: Token): FilterNode {
    if (this.#isKeyword(token, 'NOT')) {
      this.#take()
      return { kind: 'not', child: this.#not() }
    }
    if (token.kind === '(') {
      this.#take()
      const inner = this.#or()
      const close = this.#peek()
      if (close.kind !== ')') {
        throw this.#error('Expression is missing the following closing delimiter: `)`', {
          start: token.start,
          end: close.end,
        })
      }
      this.#take()
      return inner
    }
    return this.#condition()
  }

  #word(what: string): FilterWord {
    const token = this.#peek()
    if (token.kind !== 'word' && token.kind !== 'string') {
      const found = token.kind === 'end' ? 'nothing' : `\`${token.text}\``
      throw this.#error(`Was expecting ${what} but instead got ${found}`, token)
    }
    this.#take()
    return {
      text: token.text,
      quoted: token.kind === 'string',
      start: token.start,
      end: token.end,
      source: this.#source,
    }
  }

  #condition(): FilterNode {
    const first = this.#peek()
    if (first.kind === 'end')
      throw this.#error('Was expecting a filter expression but instead got nothing', first)
    const attribute = this.#word('an attribute name')
    const token = this.#peek()
    if (token.kind === 'op') {
      this.#take()
      const value = this.#word('a value')
      return { kind: 'compare', attribute, op: token.text as CompareOp, value }
    }
    if (this.#isKeyword(token, 'IN')) {
      this.#take()
      return { kind: 'in', attribute, values: this.#list() }
    }
    if (this.#isKeyword(token, 'EXISTS')) {
      this.#take()
      return { kind: 'exists', attribute }
    }
    if (this.#isKeyword(token, 'NOT')) {
      const after = this.#peek(1)
      if (this.#isKeyword(after, 'IN')) {
        this.#at += 2
        return { kind: 'not', child: { kind: 'in', attribute, values: this.#list() } }
      }
      if (this.#isKeyword(after, 'EXISTS')) {
        this.#at += 2
        return { kind: 'not', child: { kind: 'exists', attribute } }
      }
      throw this.#error('Was expecting `IN` or `EXISTS` after `NOT`', after)
    }
    if (this.#isKeyword(token, 'IS')) {
      this.#take()
      let negated = false
      if (this.#isKeyword(this.#peek(), 'NOT')) {
        this.#take()
        negated = true
      }
      const what = this.#peek()
      let node: FilterNode
      if (this.#isKeyword(what, 'NULL')) node = { kind: 'null', attribute }
      else if (this.#isKeyword(what, 'EMPTY')) node = { kind: 'empty', attribute }
      else throw this.#error('Was expecting `NULL` or `EMPTY` after `IS`', what)
      this.#take()
      return negated ? { kind: 'not', child: node } : node
    }
    if ((token.kind === 'word' || token.kind === 'string') && this.#isKeyword(this.#peek(1), 'TO')) {
      const low = this.#word('a value')
      this.#take()
      const high = this.#word('a value')
      return { kind: 'range', attribute, low, high }
    }
    throw this.#error(`Was expecting an operation ${OPERATION_LIST}`, {
      start: attribute.start,
      end: token.kind === 'end' ? attribute.end : token.end,
    })
  }

  #list(): FilterWord[] {
    const open = this.#peek()
    if (open.kind !== '[') throw this.#error('Was expecting an opening bracket `[` after `IN`', open)
    this.#take()
    const values: FilterWord[] = []
    while (this.#peek().kind !== ']') {
      if (this.#peek().kind === 'end') {
        throw this.#error('Expected matching `]` after the list', {
          start: open.start,
          end: this.#source.length,
        })
      }
      values.push(this.#word('a value'))
      const separator = this.#peek()
      if (separator.kind === ',') this.#take()
      else if (separator.kind !== ']') throw this.#error('Was expecting `,` or `]` in the list', separator)
    }
    this.#take()
    return values
  }
}

export function filterError(message: string, source: string, span: Span): InvalidFilterError {
  const shown = source.slice(span.start, Math.max(span.end, span.start + 1))
  return new InvalidFilterError(`${message} at \`${shown}\`.\n${span.start + 1}:${span.end + 1} ${source}`, {
    start: span.start,
    end: span.end,
  })
}

/**
 * Parses a filter in string or array form; undefined when it filters nothing
 * out (an empty string or array).
 */
export function parseFilter(filter: Filter | null | undefined): FilterNode | undefined {
  if (filter === undefined || filter === null) return undefined
  if (typeof filter === 'string') return filter.trim() === '' ? undefined : new Parser(filter).parse()
  if (!Array.isArray(filter)) {
    throw new InvalidFilterError(
      `Invalid syntax for the filter parameter: \`expected String, Array, found: ${JSON.stringify(filter)}\`.`,
    )
  }
  const clauses: FilterNode[] = []
  for (const item of filter) {
    if (typeof item === 'string') {
      const node = parseFilter(item)
      if (node !== undefined) clauses.push(node)
    } else if (Array.isArray(item)) {
      const alternatives: FilterNode[] = []
      for (const inner of item) {
        if (typeof inner !== 'string') {
          throw new InvalidFilterError(
            `Invalid syntax for the filter parameter: \`expected String, found: ${JSON.stringify(inner)}\`.`,
          )
        }
        const node = parseFilter(inner)
        if (node !== undefined) alternatives.push(node)
      }
      if (alternatives.length > 0)
        clauses.push(alternatives.length === 1 ? alternatives[0]! : { kind: 'or', children: alternatives })
    } else {
      throw new InvalidFilterError(
        `Invalid syntax for the filter parameter: \`expected String, Array, found: ${JSON.stringify(item)}\`.`,
      )
    }
  }
  if (clauses.length === 0) return undefined
  return clauses.length === 1 ? clauses[0]! : { kind: 'and', children: clauses }
}

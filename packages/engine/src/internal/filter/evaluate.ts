/**
 * Evaluates a parsed filter over the field indexes into a bitset of live
 * document ids. Semantics follow Meilisearch: string equality is
 * case-insensitive; a value that reads as a number also matches numeric
 * fields; an array field matches when any element matches; `!=` and `NOT`
 * are complements, so they include documents without the attribute; ranges
 * (`>`, `>=`, `<`, `<=`, `TO`) compare numbers only.
 */

import type { FilterableAttribute } from '../../types.ts'
import { Bitset } from '../bitset.ts'
import type { FieldIndexes, FieldValues } from '../field-index.ts'
import { filterableNames, filterFeatures } from '../filterable-rules.ts'
import { type FilterNode, type FilterWord, filterError } from './parse.ts'

export interface FilterContext {
  /** The live documents; every result is a subset. */
  live: Bitset
  fields: FieldIndexes
  /** The `filterableAttributes` setting: which attributes filter, with which operators. */
  filterable: readonly FilterableAttribute[]
}

/** Which feature of `filterableAttributes` an operator needs. */
type Feature = 'equality' | 'comparison'

export function evaluateFilter(node: FilterNode, ctx: FilterContext): Bitset {
  const out = evaluate(node, ctx)
  return out.and(ctx.live)
}

function evaluate(node: FilterNode, ctx: FilterContext): Bitset {
  switch (node.kind) {
    case 'and': {
      const out = evaluate(node.children[0]!, ctx)
      for (let i = 1; i < node.children.length; i++) out.and(evaluate(node.children[i]!, ctx))
      return out
    }
    case 'or': {
      const out = evaluate(node.children[0]!, ctx)
      for (let i = 1; i < node.children.length; i++) out.or(evaluate(node.children[i]!, ctx))
      return out
    }
    case 'not':
      return ctx.live.copy().andNot(evaluate(node.child, ctx))
    case 'compare':
      return compare(node.attribute, node.op, node.value, ctx)
    case 'range': {
      const out = empty(ctx)
      const field = values(node.attribute, ctx, 'comparison', 'TO')
      const low = numberOf(node.low)
      const high = numberOf(node.high)
      field?.range(out, low, true, high, true)
      return out
    }
    case 'in': {
      const out = empty(ctx)
      const field = values(node.attribute, ctx, 'equality', 'IN')
      if (field !== undefined) for (const value of node.values) equal(out, field, value)
      return out
    }
    case 'exists':
      return postings(ctx, values(node.attribute, ctx, 'equality', 'EXISTS')?.exists)
    case 'null':
      return postings(ctx, values(node.attribute, ctx, 'equality', 'IS NULL')?.nulls)
    case 'empty':
      return postings(ctx, values(node.attribute, ctx, 'equality', 'IS EMPTY')?.empties)
  }
}

function compare(attribute: FilterWord, op: string, value: FilterWord, ctx: FilterContext): Bitset {
  const equality = op === '=' || op === '!='
  const field = values(attribute, ctx, equality ? 'equality' : 'comparison', op)
  if (equality) {
    const out = empty(ctx)
    if (field !== undefined) equal(out, field, value)
    return op === '=' ? out : ctx.live.copy().andNot(out)
  }
  const n = numberOf(value)
  const out = empty(ctx)
  if (field === undefined) return out
  if (op === '>') field.range(out, n, false, Number.POSITIVE_INFINITY, true)
  else if (op === '>=') field.range(out, n, true, Number.POSITIVE_INFINITY, true)
  else if (op === '<') field.range(out, Number.NEGATIVE_INFINITY, true, n, false)
  else field.range(out, Number.NEGATIVE_INFINITY, true, n, true)
  return out
}

function equal(out: Bitset, field: FieldValues, value: FilterWord): void {
  const ids = field.strings.get(value.text.toLowerCase())
  if (ids !== undefined) out.addAll(ids)
  const n = parseNumber(value.text)
  if (n !== undefined) {
    const numeric = field.numbers.get(n)
    if (numeric !== undefined) out.addAll(numeric)
  }
}

function values(
  attribute: FilterWord,
  ctx: FilterContext,
  feature: Feature,
  operator: string,
): FieldValues | undefined {
  const features = filterFeatures(ctx.filterable, attribute.text)
  if (features === undefined) {
    const names = filterableNames(ctx.filterable)
    const available =
      names.length === 0
        ? 'This index does not have configured filterable attributes'
        : `Available filterable attributes are: \`${names.join(', ')}\``
    throw filterError(
      `Attribute \`${attribute.text}\` is not filterable. ${available}`,
      attribute.source,
      attribute,
    )
  }
  if (!features.filter[feature]) {
    const allowed = [
      ...(features.filter.equality ? ['=', '!=', 'IN', 'EXISTS', 'IS NULL', 'IS EMPTY'] : []),
      ...(features.filter.comparison ? ['<', '>', '<=', '>=', 'TO'] : []),
    ]
    throw filterError(
      `Filter operator \`${operator}\` is not allowed for the attribute \`${attribute.text}\`.\n  - Note: allowed operators: ${allowed.length === 0 ? 'none' : allowed.join(', ')}.\n  - Note: you can configure the \`filterableAttributes\` setting with \`${feature}: true\` to allow it.`,
      attribute.source,
      attribute,
    )
  }
  return ctx.fields.get(attribute.text)
}

function numberOf(value: FilterWord): number {
  const n = parseNumber(value.text)
  if (n === undefined) {
    throw filterError(
      `The value \`${value.text}\` is not a number; ranges compare numbers only`,
      value.source,
      value,
    )
  }
  return n
}

export function parseNumber(text: string): number | undefined {
  if (text.trim() === '' || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text.trim())) return undefined
  const n = Number(text)
  return Number.isFinite(n) ? n : undefined
}

function empty(ctx: FilterContext): Bitset {
  return new Bitset(ctx.live.capacity)
}

function postings(ctx: FilterContext, ids: number[] | undefined): Bitset {
  const out = empty(ctx)
  if (ids !== undefined) out.addAll(ids)
  return out
}

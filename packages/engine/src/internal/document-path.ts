/**
 * Reading documents by dotted attribute paths. Nested objects are addressed
 * with dots (`author.name`); arrays are transparent (`tags.name` over
 * `tags: [{ name }, ...]` yields every name), as in Meilisearch.
 */

import type { Doc } from '../types.ts'

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/**
 * Calls `visit(path, value)` for every node of `doc` reachable by a path, in
 * document order: objects and arrays are visited as nodes and then descended
 * into (array items keep their parent's path).
 */
export function walkDocument(doc: Doc, visit: (path: string, value: unknown) => void): void {
  for (const key of Object.keys(doc)) walkValue(key, doc[key], visit)
}

function walkValue(path: string, value: unknown, visit: (path: string, value: unknown) => void): void {
  visit(path, value)
  if (Array.isArray(value)) {
    for (const item of value) {
      if (Array.isArray(item) || isPlainObject(item)) walkInto(path, item, visit)
      else visit(path, item)
    }
  } else if (isPlainObject(value)) {
    for (const key of Object.keys(value)) walkValue(`${path}.${key}`, value[key], visit)
  }
}

function walkInto(path: string, value: unknown, visit: (path: string, value: unknown) => void): void {
  if (Array.isArray(value)) {
    for (const item of value) {
      if (Array.isArray(item) || isPlainObject(item)) walkInto(path, item, visit)
      else visit(path, item)
    }
  } else if (isPlainObject(value)) {
    for (const key of Object.keys(value)) walkValue(`${path}.${key}`, value[key], visit)
  }
}

/** The scalar leaves found at `path` (arrays flattened), in document order. */
export function valuesAt(doc: Doc, path: string): unknown[] {
  const out: unknown[] = []
  collect(doc, path.split('.'), 0, out)
  return out
}

function collect(node: unknown, parts: string[], at: number, out: unknown[]): void {
  if (Array.isArray(node)) {
    for (const item of node) collect(item, parts, at, out)
    return
  }
  if (at === parts.length) {
    out.push(node)
    return
  }
  if (!isPlainObject(node)) return
  // A key may itself contain dots (`{ "a.b": 1 }`); try the longest literal key first.
  for (let end = parts.length; end > at; end--) {
    const key = end - at === 1 ? parts[at]! : parts.slice(at, end).join('.')
    if (Object.hasOwn(node, key)) collect(node[key], parts, end, out)
  }
}

/**
 * A copy of `doc` with only the attributes selected by `fields` (top-level
 * names or dotted paths; `*` keeps everything). The caller owns the result.
 */
export function pickFields(doc: Doc, fields: readonly string[] | undefined, skip?: string): Doc {
  const out: Doc = {}
  if (fields === undefined || fields.includes('*')) {
    for (const key of Object.keys(doc)) if (key !== skip) out[key] = doc[key]
    return out
  }
  for (const key of Object.keys(doc)) {
    if (key === skip) continue
    let whole = false
    const nested: string[] = []
    for (const field of fields) {
      if (field === key) whole = true
      else if (field.startsWith(key) && field[key.length] === '.') nested.push(field.slice(key.length + 1))
    }
    if (whole) out[key] = doc[key]
    else if (nested.length > 0) {
      const picked = pickNested(doc[key], nested)
      if (picked !== undefined) out[key] = picked
    }
  }
  return out
}

function pickNested(value: unknown, fields: string[]): unknown {
  if (Array.isArray(value)) {
    const items = value.map((item) => pickNested(item, fields)).filter((item) => item !== undefined)
    return items.length > 0 ? items : undefined
  }
  if (!isPlainObject(value)) return undefined
  const picked = pickFields(value, fields)
  return Object.keys(picked).length > 0 ? picked : undefined
}

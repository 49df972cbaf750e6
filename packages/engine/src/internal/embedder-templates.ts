/**
 * The templates of a `rest` embedder, as pure functions: the document template (what text a
 * document is embedded as), and the request and response templates (where the text goes in the
 * JSON sent, where the vector is in the JSON answered). No network here; the server calls them.
 *
 * Document template: a Liquid-like subset.
 *   - Literal text, and `{{ doc.<path> }}` (spaces optional), `<path>` a dotted attribute path
 *     (`doc.author.name`); the value renders as a string as is, a number or boolean in JSON form,
 *     null or a missing attribute as nothing, an array of strings/numbers joined by `, `, any
 *     other array or object as JSON.
 *   - The default template (DEFAULT_DOCUMENT_TEMPLATE, Meilisearch's default) renders one line
 *     `name: value` per searchable top-level attribute that has a non-null value.
 *   - Anything else — tags (`{% ... %}`), filters (`| upcase`), other variables — is refused
 *     when the settings are validated.
 *
 * Request template: any JSON value holding the string `"{{text}}"` exactly once. To send several
 * texts in one request, an array `[item, "{{..}}"]` whose `item` holds `"{{text}}"`: the array
 * is sent with one `item` per text. Response template: likewise with `"{{embedding}}"`; a
 * batching request needs a batching response and the other way round.
 */

import type { Doc } from '../types.ts'
import { isPlainObject } from './document-path.ts'

export const DEFAULT_DOCUMENT_TEMPLATE =
  '{% for field in fields %}{% if field.is_searchable and field.value != nil %}{{ field.name }}: {{ field.value }}\n{% endif %}{% endfor %}'

/** @defaultValue of `documentTemplateMaxBytes`. */
export const DEFAULT_DOCUMENT_TEMPLATE_MAX_BYTES = 400

const TEXT = '{{text}}'
const EMBEDDING = '{{embedding}}'
const REPEAT = '{{..}}'

/** Where a placeholder sits: the keys down to it, and (batching) the keys down to the repeated array. */
export interface TemplateShape {
  /** Keys from the root to the `[item, "{{..}}"]` array, or null when nothing repeats. */
  repeatPath: (string | number)[] | null
  /** Keys to the placeholder: from the root, or from `item` when the template repeats. */
  placeholderPath: (string | number)[]
}

type Part = { text: string } | { path: string[] }

/** The parts of a document template, or a sentence saying why it is refused. */
export function parseDocumentTemplate(template: string): Part[] | 'default' | string {
  if (template === DEFAULT_DOCUMENT_TEMPLATE) return 'default'
  if (template.includes('{%')) return 'tags (`{% ... %}`) are not supported, only `{{ doc.<path> }}`'
  const parts: Part[] = []
  let at = 0
  while (at < template.length) {
    const open = template.indexOf('{{', at)
    const literalEnd = open === -1 ? template.length : open
    const literal = template.slice(at, literalEnd)
    if (literal.includes('}}')) return '`}}` without an opening `{{`'
    if (literal.length > 0) parts.push({ text: literal })
    if (open === -1) break
    const close = template.indexOf('}}', open + 2)
    if (close === -1) return '`{{` without a closing `}}`'
    const expression = template.slice(open + 2, close).trim()
    const match = /^doc((?:\.[^.\s|{}]+)+)$/.exec(expression)
    if (match === null) {
      return `\`{{ ${expression} }}\` is not supported: only \`{{ doc.<path> }}\` (no filters, no other variables)`
    }
    parts.push({ path: match[1]!.slice(1).split('.') })
    at = close + 2
  }
  return parts
}

/**
 * The text `doc` is embedded as under `template` (already validated), cut to `maxBytes` UTF-8
 * bytes on a character boundary. `searchable` decides the fields of the default template.
 */
export function renderDocumentTemplate(
  template: string,
  doc: Doc,
  maxBytes: number,
  searchable: readonly string[],
): string {
  const parsed = parseDocumentTemplate(template)
  if (typeof parsed === 'string' && parsed !== 'default') throw new TypeError(`invalid template: ${parsed}`)
  let text = ''
  if (parsed === 'default') {
    for (const [name, value] of Object.entries(doc)) {
      if (name === '_vectors' || value === null || value === undefined) continue
      if (!searchable.includes('*') && !searchable.some((a) => a === name || a.startsWith(`${name}.`)))
        continue
      text += `${name}: ${renderValue(value)}\n`
    }
  } else {
    for (const part of parsed) text += 'text' in part ? part.text : renderValue(valueAt(doc, part.path))
  }
  return truncateUtf8(text, maxBytes)
}

function valueAt(doc: Doc, path: string[]): unknown {
  let value: unknown = doc
  for (const key of path) {
    if (!isPlainObject(value)) return undefined
    value = value[key]
  }
  return value
}

function renderValue(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value)
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' || typeof v === 'number')) {
    return value.map((v) => String(v)).join(', ')
  }
  return JSON.stringify(value)
}

const encoder = new TextEncoder()

/** `text` cut to at most `maxBytes` UTF-8 bytes, never inside a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text
  const bytes = encoder.encode(text)
  if (bytes.length <= maxBytes) return text
  let end = maxBytes
  // Back off continuation bytes (10xxxxxx) to the start of the character cut in two.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--
  return new TextDecoder().decode(bytes.subarray(0, end))
}

/**
 * Where `placeholder` sits in `template` (a request or response template), or a sentence saying
 * why the template is refused: it must hold the placeholder exactly once, and `"{{..}}"` at most
 * once, as the second and last item of an array whose first item holds the placeholder.
 */
export function templateShape(
  template: unknown,
  placeholder: '{{text}}' | '{{embedding}}',
): TemplateShape | string {
  const found: (string | number)[][] = []
  const repeats: (string | number)[][] = []
  const visit = (value: unknown, path: (string | number)[]): void => {
    if (value === placeholder) found.push(path)
    else if (value === REPEAT) repeats.push(path)
    else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) visit(value[i], [...path, i])
    } else if (isPlainObject(value))
      for (const [key, item] of Object.entries(value)) visit(item, [...path, key])
  }
  visit(template, [])
  if (found.length !== 1) return `must hold \`"${placeholder}"\` exactly once (found ${found.length})`
  const at = found[0]!
  if (repeats.length === 0) return { repeatPath: null, placeholderPath: at }
  if (repeats.length > 1) return `must hold \`"${REPEAT}"\` at most once`
  const repeat = repeats[0]!
  const arrayPath = repeat.slice(0, -1)
  const array = arrayPath.reduce<unknown>(
    (value, key) => (value as Record<string | number, unknown>)[key],
    template,
  )
  const sameArray = arrayPath.every((key, i) => at[i] === key)
  if (
    !Array.isArray(array) ||
    array.length !== 2 ||
    repeat.at(-1) !== 1 ||
    !sameArray ||
    at[arrayPath.length] !== 0
  ) {
    return `may hold \`"${REPEAT}"\` only as the second and last item of an array whose first item holds \`"${placeholder}"\``
  }
  return { repeatPath: arrayPath, placeholderPath: at.slice(arrayPath.length + 1) }
}

/** The JSON body that asks for the embeddings of `texts` (one text unless the request repeats). */
export function restRequestBody(request: unknown, texts: readonly string[]): unknown {
  const shape = templateShape(request, TEXT)
  if (typeof shape === 'string') throw new TypeError(`invalid request template: ${shape}`)
  if (shape.repeatPath === null) {
    if (texts.length !== 1) throw new RangeError('a request template without `{{..}}` sends one text')
    return replaceAt(request, shape.placeholderPath, texts[0])
  }
  const item = valueAtPath(request, [...shape.repeatPath, 0])
  const items = texts.map((text) => replaceAt(item, shape.placeholderPath, text))
  return replaceAt(request, shape.repeatPath, items)
}

/**
 * The `count` vectors in a JSON answer shaped by `response`, in request order, or a sentence
 * saying what is wrong with the answer.
 */
export function restResponseEmbeddings(response: unknown, body: unknown, count: number): number[][] | string {
  const shape = templateShape(response, EMBEDDING)
  if (typeof shape === 'string') throw new TypeError(`invalid response template: ${shape}`)
  const items = shape.repeatPath === null ? [body] : valueAtPath(body, shape.repeatPath)
  if (!Array.isArray(items)) return `expected an array at \`${pathText(shape.repeatPath ?? [])}\``
  if (items.length !== count) return `expected ${count} embeddings, found ${items.length}`
  const vectors: number[][] = []
  for (const item of items) {
    const vector = valueAtPath(item, shape.placeholderPath)
    if (!Array.isArray(vector) || vector.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
      return `expected an array of numbers at \`${pathText([...(shape.repeatPath ?? []), ...shape.placeholderPath])}\``
    }
    vectors.push(vector as number[])
  }
  return vectors
}

/** Whether the request template sends several texts per request. */
export function requestRepeats(request: unknown): boolean {
  const shape = templateShape(request, TEXT)
  return typeof shape !== 'string' && shape.repeatPath !== null
}

function valueAtPath(value: unknown, path: readonly (string | number)[]): unknown {
  let at = value
  for (const key of path) {
    if (Array.isArray(at) && typeof key === 'number') at = at[key]
    else if (isPlainObject(at) && typeof key === 'string') at = at[key]
    else return undefined
  }
  return at
}

/** A copy of `value` with the node at `path` replaced by `replacement` (the rest shared). */
function replaceAt(value: unknown, path: readonly (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement
  const [key, ...rest] = path
  if (Array.isArray(value))
    return value.map((item, i) => (i === key ? replaceAt(item, rest, replacement) : item))
  const object = value as Record<string, unknown>
  return { ...object, [key as string]: replaceAt(object[key as string], rest, replacement) }
}

function pathText(path: readonly (string | number)[]): string {
  return path.length === 0
    ? '.'
    : path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${key}`)).join('')
}

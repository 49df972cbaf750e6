import { createHmac, timingSafeEqual } from 'node:crypto'
import type { Filter } from './engine-port.ts'

/**
 * Tenant tokens as Meilisearch defines them: a JWT (HS256, HS384 or HS512)
 * signed with an API key's secret, whose payload names that key
 * (`apiKeyUid`), an optional expiry (`exp`, seconds since the epoch) and the
 * `searchRules`: the indexes the token may search, each with an optional
 * filter that is ANDed to every search the token makes there.
 *
 * This file only reads and checks tokens; the key store decides whether the
 * key named may sign them (see api-keys.ts).
 */

const ALGORITHMS: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }

export interface TenantClaims {
  apiKeyUid: string
  /** Expiry in seconds since the epoch; absent: the token lasts as long as its key. */
  exp?: number
  rules: SearchRules
}

/** Index pattern (`*`, `prefix*` or a uid) → the filter searches there get; null: no filter. */
export type SearchRules = Map<string, Filter | null>

/** Whether a bearer token has the shape of a JWT (three base64url parts); API keys never do. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)
}

function decodePart(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Reads a token's claims without checking its signature (the caller needs
 * `apiKeyUid` to find the secret, then calls `verifySignature`). Undefined
 * when the token is malformed in any way.
 */
export function readClaims(token: string): TenantClaims | undefined {
  const [headerPart, payloadPart] = token.split('.')
  const header = decodePart(headerPart ?? '')
  const payload = decodePart(payloadPart ?? '')
  if (!isObject(header) || typeof header.alg !== 'string' || !(header.alg in ALGORITHMS)) return undefined
  if (!isObject(payload) || typeof payload.apiKeyUid !== 'string') return undefined
  if (payload.exp !== undefined && payload.exp !== null && typeof payload.exp !== 'number') return undefined
  const rules = readRules(payload.searchRules)
  if (rules === undefined) return undefined
  return {
    apiKeyUid: payload.apiKeyUid,
    ...(typeof payload.exp === 'number' ? { exp: payload.exp } : {}),
    rules,
  }
}

/** `["movies", "books*"]` or `{ "movies": { "filter": … } | null | {} }`. */
function readRules(value: unknown): SearchRules | undefined {
  const rules: SearchRules = new Map()
  if (Array.isArray(value)) {
    for (const pattern of value) {
      if (typeof pattern !== 'string') return undefined
      rules.set(pattern, null)
    }
    return rules
  }
  if (!isObject(value)) return undefined
  for (const [pattern, rule] of Object.entries(value)) {
    if (rule === null) {
      rules.set(pattern, null)
      continue
    }
    if (!isObject(rule)) return undefined
    const filter = rule.filter
    if (filter === undefined || filter === null) rules.set(pattern, null)
    else if (typeof filter === 'string' || Array.isArray(filter)) rules.set(pattern, filter as Filter)
    else return undefined
  }
  return rules
}

/** Checks the token's HMAC against `secret` with the algorithm its header names. */
export function verifySignature(token: string, secret: string): boolean {
  const [headerPart = '', payloadPart = '', signature = ''] = token.split('.')
  const header = decodePart(headerPart) as { alg?: string }
  const algorithm = ALGORITHMS[header.alg ?? '']
  if (algorithm === undefined) return false
  const expected = createHmac(algorithm, secret).update(`${headerPart}.${payloadPart}`).digest()
  const given = Buffer.from(signature, 'base64url')
  return given.length === expected.length && timingSafeEqual(given, expected)
}

function matches(pattern: string, uid: string): boolean {
  if (pattern === '*') return true
  if (pattern.endsWith('*')) return uid.startsWith(pattern.slice(0, -1))
  return pattern === uid
}

/**
 * The rule for one index: the exact uid wins over patterns, a longer prefix
 * over a shorter one, and `*` comes last (Meilisearch: specific rules
 * override `*`). `{ allowed: false }` when no rule names the index.
 */
export function ruleFor(
  rules: SearchRules,
  uid: string,
): { allowed: false } | { allowed: true; filter: Filter | null } {
  let best: string | undefined
  for (const pattern of rules.keys()) {
    if (!matches(pattern, uid)) continue
    const rank = (p: string) => (p === uid ? Number.POSITIVE_INFINITY : p === '*' ? -1 : p.length)
    if (best === undefined || rank(pattern) > rank(best)) best = pattern
  }
  return best === undefined ? { allowed: false } : { allowed: true, filter: rules.get(best) ?? null }
}

/** `rule AND request`: both filters' top-level clauses in one list (each item is ANDed). */
export function andFilters(rule: Filter | null, request: Filter | undefined): Filter | undefined {
  if (rule === null) return request
  const clauses = (filter: Filter): (string | string[])[] => (typeof filter === 'string' ? [filter] : filter)
  return request === undefined || request === null ? rule : [...clauses(rule), ...clauses(request)]
}

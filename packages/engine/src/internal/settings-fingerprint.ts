/**
 * A short fingerprint of an index's settings, so that the merge of a distributed search can tell
 * that its partitions searched under the same settings (a settings change that reached some
 * shards only): a 53-bit hash of the settings as canonical JSON (keys sorted at every level), in
 * base 36. Not a security measure; equal settings always give equal fingerprints.
 */

import type { Settings } from '../types.ts'

/**
 * Per settings object: an index's settings are replaced as a whole on every change, never
 * modified in place, and every shard search asks for the fingerprint.
 */
const fingerprints = new WeakMap<Settings, string>()

export function settingsFingerprint(settings: Settings): string {
  let fingerprint = fingerprints.get(settings)
  if (fingerprint === undefined) {
    fingerprint = hash53(canonical(settings)).toString(36)
    fingerprints.set(settings, fingerprint)
  }
  return fingerprint
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/** Two 32-bit multiply-xorshift lanes folded into 53 bits (cyrb53's construction). */
function hash53(text: string): number {
  let h1 = 0xdeadbeef
  let h2 = 0x41c6ce57
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 2654435761)
    h2 = Math.imul(h2 ^ c, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return 4294967296 * (2097151 & h2) + (h1 >>> 0)
}

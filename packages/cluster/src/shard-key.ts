import { shardOf } from '@shoal/hashring'
import type { ShardingSpec } from './metadata/types.ts'

/**
 * The shard key of a document under the `field` strategy, and the shards a filter value can
 * match. Only two kinds of value are shard keys: non-empty strings and safe integers. Floats,
 * booleans, null, arrays and objects are refused, because a document must hash to exactly one
 * shard and filter equality must find it there.
 *
 * A key is hashed in the form filter equality compares it (the engine's filter semantics):
 * strings in lower case (`tenant = ACME` matches `"acme"`), integers as their decimal text (the
 * filter value `42` matches the number 42 and the string `"42"`, which hash alike).
 */

/** Why a document has no valid shard key. */
export type ShardKeyProblem = 'missing' | 'invalid'

export type ShardKeyOutcome =
  | { readonly ok: true; readonly shard: number }
  | { readonly ok: false; readonly problem: ShardKeyProblem }

/** The text a shard key value hashes as, or undefined when the value cannot be a shard key. */
export function shardKeyText(value: unknown): string | undefined {
  if (typeof value === 'string') return value.length === 0 ? undefined : value.toLowerCase()
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value)
  return undefined
}

/** The shard a valid shard key text lives in. */
export function shardOfKeyText(text: string, shardCount: number): number {
  return shardOf(text, shardCount)
}

/** The shard of a document of a `field`-sharded index, or why it has none. */
export function shardOfFieldValue(
  doc: Readonly<Record<string, unknown>>,
  field: string,
  shardCount: number,
): ShardKeyOutcome {
  if (!Object.hasOwn(doc, field) || doc[field] === undefined) return { ok: false, problem: 'missing' }
  const text = shardKeyText(doc[field])
  if (text === undefined) return { ok: false, problem: 'invalid' }
  return { ok: true, shard: shardOfKeyText(text, shardCount) }
}

/**
 * The shards a filter equality on the shard key with this value (as the filter spells it) can
 * match: the shard of the value in lower case, and, when the text reads as an integer in
 * another spelling (`042`, `4.2e1`), the shard of that integer too.
 */
export function shardsOfFilterValue(text: string, shardCount: number): number[] {
  const shards = new Set<number>()
  if (text.length > 0) shards.add(shardOfKeyText(text.toLowerCase(), shardCount))
  const trimmed = text.trim()
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(trimmed)) {
    const n = Number(trimmed)
    if (Number.isSafeInteger(n)) shards.add(shardOfKeyText(String(n), shardCount))
  }
  return [...shards].sort((a, b) => a - b)
}

/** The attribute a `field`-sharded index routes by (undefined under `hash`). */
export function shardField(sharding: ShardingSpec): string | undefined {
  return sharding.strategy === 'field' ? sharding.field : undefined
}

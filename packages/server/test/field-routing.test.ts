import { shardOfFieldValue } from '@shoal/cluster'
import { describe, expect, it } from 'vitest'
import { type LocatedCopy, planFieldWrite, shardsForFilter } from '../src/internal/cluster/field-routing.ts'

// Routing of a `field`-sharded index (docs/sharded-indexes.md): writes by the shard key the
// document will have, key changes as a move in two steps, and the shards a filter can match.

const SHARDS = 8
const shardOf = (tenant: string | number): number => {
  const outcome = shardOfFieldValue({ tenant }, 'tenant', SHARDS)
  if (!outcome.ok) throw new Error('not a key')
  return outcome.shard
}
// Two tenants in different shards.
const A = 'alpha'
const B = ['beta', 'gamma', 'delta', 'epsilon'].find((t) => shardOf(t) !== shardOf(A))!

const plan = (docs: object[], merge: boolean, located: Record<string, LocatedCopy[]> = {}) =>
  planFieldWrite(docs as Record<string, unknown>[], {
    primaryKey: 'id',
    field: 'tenant',
    shardCount: SHARDS,
    merge,
    located: new Map(Object.entries(located)),
  })

describe('routing a write by shard key', () => {
  it('sends each document to the shard of its key, nothing to remove when nothing moves', () => {
    const out = plan(
      [
        { id: 1, tenant: A },
        { id: 2, tenant: B },
        { id: 3, tenant: 'ALPHA' },
      ],
      false,
    )
    expect(out.additions[shardOf(A)]).toEqual([
      { id: 1, tenant: A },
      { id: 3, tenant: 'ALPHA' },
    ])
    expect(out.additions[shardOf(B)]).toEqual([{ id: 2, tenant: B }])
    expect(out.removals.every((r) => r === null)).toBe(true)
    expect(out.moved).toBe(0)
  })

  it('keeps a partial update without the key where the document lives', () => {
    const stored = { id: 1, tenant: A, title: 'x' }
    const out = plan([{ id: 1, title: 'y' }], true, { '1': [{ shard: shardOf(A), doc: stored }] })
    expect(out.additions[shardOf(A)]).toEqual([{ id: 1, title: 'y' }])
    expect(out.moved).toBe(0)
  })

  it('moves a document whose key changes: the whole merged document in, the old copy out after', () => {
    const stored = { id: 1, tenant: A, title: 'x' }
    const out = plan([{ id: 1, tenant: B }], true, { '1': [{ shard: shardOf(A), doc: stored }] })
    expect(out.additions[shardOf(B)]).toEqual([{ id: 1, tenant: B, title: 'x' }])
    expect(out.additions[shardOf(A)]).toBeNull()
    expect(out.removals[shardOf(A)]).toEqual(['1'])
    expect(out.moved).toBe(1)
  })

  it('removes a copy left in another shard by a move cut short', () => {
    const out = plan([{ id: 1, tenant: A }], false, {
      '1': [
        { shard: shardOf(A), doc: { id: 1, tenant: A } },
        { shard: shardOf(B), doc: { id: 1, tenant: B } },
      ],
    })
    expect(out.additions[shardOf(A)]).toEqual([{ id: 1, tenant: A }])
    expect(out.removals[shardOf(B)]).toEqual(['1'])
    expect(out.moved).toBe(0)
  })

  it('refuses the whole batch on the first missing or invalid key', () => {
    for (const bad of [{ id: 2 }, { id: 2, tenant: 1.5 }, { id: 2, tenant: [A] }, { id: 2, tenant: '' }])
      expect(() => plan([{ id: 1, tenant: A }, bad], false)).toThrow(
        expect.objectContaining({ code: 'invalid_document_shard_key', httpStatus: 400 }),
      )
    // A partial update of a document that does not exist yet needs the key too.
    expect(() => plan([{ id: 1, title: 'x' }], true)).toThrow(/position 0 has no `tenant`/)
  })
})

describe('pruning shards by filter', () => {
  it('pins `=`, `IN`, an AND with a pinned side and an OR of pinned sides', () => {
    expect(shardsForFilter(`tenant = ${A}`, 'tenant', SHARDS)).toEqual([shardOf(A)])
    expect(shardsForFilter(`tenant IN [${A}, ${B}]`, 'tenant', SHARDS)).toEqual(
      [shardOf(A), shardOf(B)].sort((x, y) => x - y),
    )
    expect(shardsForFilter(`year > 3 AND tenant = "${A.toUpperCase()}"`, 'tenant', SHARDS)).toEqual([
      shardOf(A),
    ])
    expect(shardsForFilter([[`tenant = ${A}`, `tenant = ${B}`], 'year > 3'], 'tenant', SHARDS)).toHaveLength(
      2,
    )
    expect(shardsForFilter(`tenant = ${A} AND tenant = ${B}`, 'tenant', SHARDS)).toEqual([])
    expect(shardsForFilter('tenant = 042', 'tenant', SHARDS)).toContain(shardOf(42))
  })

  it('searches every shard otherwise', () => {
    for (const filter of [
      undefined,
      '',
      `tenant != ${A}`,
      `NOT tenant = ${A}`,
      `tenant = ${A} OR year > 3`,
      'tenant EXISTS',
      'tenant 1 TO 5',
      'owner = x',
      'tenant = (',
    ])
      expect(shardsForFilter(filter, 'tenant', SHARDS), String(filter)).toBeNull()
  })
})

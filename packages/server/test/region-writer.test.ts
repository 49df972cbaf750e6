import { describe, expect, it } from 'vitest'
import type { RegionIndexOptions } from '../src/internal/regions/region-config.ts'
import {
  adoptClaims,
  claimOf,
  isFencedWrite,
  promoteIndexes,
  supersedes,
} from '../src/internal/regions/region-writer.ts'

// docs/multi-region.md, "Single-writer indexes and promotion": the rules of writer claims.

const async = { mode: 'async', conflictResolution: 'lww' } as const
const at = (wallMs: number) => ({ wallMs, logical: 0 })

describe('single-writer claims', () => {
  it('a higher epoch supersedes; at one epoch the greater region name does; nothing supersedes itself', () => {
    expect(supersedes({ writer: 'eu', epoch: 1 }, { writer: 'us', epoch: 2 })).toBe(true)
    expect(supersedes({ writer: 'us', epoch: 3 }, { writer: 'eu', epoch: 2 })).toBe(false)
    expect(supersedes({ writer: 'eu', epoch: 2 }, { writer: 'us', epoch: 2 })).toBe(true)
    expect(supersedes({ writer: 'us', epoch: 2 }, { writer: 'eu', epoch: 2 })).toBe(false)
    expect(supersedes({ writer: 'us', epoch: 2 }, { writer: 'us', epoch: 2 })).toBe(false)
  })

  it('promotion takes every single-writer index to the next epoch, and refuses an index that is not one', () => {
    const indexes: Record<string, RegionIndexOptions> = {
      a: { ...async, writer: 'eu' },
      b: { ...async, writer: 'us', writerEpoch: 4 },
      c: { ...async },
    }
    const { indexes: next, promoted } = promoteIndexes(indexes, 'us', at(50))
    expect(promoted.sort()).toEqual(['a', 'b'])
    expect(claimOf(next.a)).toEqual({ writer: 'us', epoch: 2, since: at(50) })
    expect(claimOf(next.b)).toEqual({ writer: 'us', epoch: 5, since: at(50) })
    expect(claimOf(next.c)).toBeUndefined()
    expect(indexes.a?.writerEpoch).toBeUndefined() // the input is not changed
    expect(() => promoteIndexes(indexes, 'us', at(50), ['c'])).toThrow(/not a single-writer index/)
  })

  it('a greeting’s newer claims are adopted only for indexes single-writer here', () => {
    const indexes: Record<string, RegionIndexOptions> = {
      a: { ...async, writer: 'eu' },
      b: { ...async },
    }
    const claims = {
      a: { writer: 'us', epoch: 2, since: at(9) },
      b: { writer: 'us', epoch: 2 },
      missing: { writer: 'us', epoch: 7 },
    }
    const { indexes: next, changed } = adoptClaims(indexes, claims)
    expect(changed).toEqual(['a'])
    expect(claimOf(next.a)).toEqual({ writer: 'us', epoch: 2, since: at(9) })
    expect(next.b).toEqual(indexes.b)
    expect(adoptClaims(next, { a: { writer: 'eu', epoch: 1 } }).changed).toEqual([])
  })

  it('a write from a replaced writer stamped after the promotion is fenced; earlier ones and the writer’s are not', () => {
    const claim = { writer: 'us', epoch: 2, since: at(100) }
    expect(isFencedWrite(claim, 'eu', at(101))).toBe(true)
    expect(isFencedWrite(claim, 'eu', at(100))).toBe(false)
    expect(isFencedWrite(claim, 'eu', at(99))).toBe(false)
    expect(isFencedWrite(claim, 'us', at(500))).toBe(false)
    expect(isFencedWrite({ writer: 'eu', epoch: 1 }, 'us', at(500))).toBe(false)
    expect(isFencedWrite(undefined, 'us', at(500))).toBe(false)
  })
})

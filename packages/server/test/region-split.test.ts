import { shardOfDocument } from '@shoal/cluster'
import type { Command } from '@shoal/engine'
import { describe, expect, it } from 'vitest'
import { appliedOverShards, splitRemoteCommand } from '../src/internal/cluster/region-split.ts'

// A receiving cluster re-hashes a remote write over its own shards (docs/multi-region.md,
// "Regions made of clusters"): every document lands where a local write of it would, with its
// own `prev`, and every shard gets a part.

const AT = '2026-01-01T00:00:00.000Z'

describe('splitRemoteCommand', () => {
  it('puts each document in the shard a local write of it would use, with its prev', () => {
    const documents = Array.from({ length: 40 }, (_, i) => ({ sku: i % 2 === 0 ? i : `s-${i}`, n: i }))
    const prev = documents.map((_, i) => (i % 3 === 0 ? null : ([1000 + i, 0, 'us'] as const)))
    const command: Command = {
      type: 'addDocuments',
      uid: 'p',
      documents,
      primaryKey: 'sku',
      merge: true,
      at: AT,
    }
    const parts = splitRemoteCommand(command, prev, 3, 'p-shards')
    expect(parts).toHaveLength(3)
    let seen = 0
    parts.forEach((part, shard) => {
      expect(part.command).toMatchObject({
        type: 'addDocuments',
        uid: 'p-shards',
        merge: true,
        primaryKey: 'sku',
      })
      if (part.command.type !== 'addDocuments') return
      expect(part.prev).toHaveLength(part.command.documents.length)
      part.command.documents.forEach((doc, j) => {
        expect(shardOfDocument(doc.sku as string | number, 3)).toBe(shard)
        expect(part.prev[j]).toEqual(prev[doc.n as number])
        seen++
      })
    })
    expect(seen).toBe(40)
  })

  it('gives a shard none of the documents hashes to an empty part', () => {
    const command: Command = { type: 'deleteDocuments', uid: 'p', ids: [7], at: AT }
    const parts = splitRemoteCommand(command, [[5, 1, 'us']], 4, 'p')
    const target = shardOfDocument(7, 4)
    parts.forEach((part, shard) => {
      expect(part.command).toMatchObject({ type: 'deleteDocuments', ids: shard === target ? [7] : [] })
      expect(part.prev).toEqual(shard === target ? [[5, 1, 'us']] : [])
    })
  })

  it('sends settings whole to every shard', () => {
    const command: Command = {
      type: 'updateSettings',
      uid: 'p',
      settings: { searchableAttributes: ['a'] },
      at: AT,
    }
    const parts = splitRemoteCommand(command, [null], 2, 'p')
    expect(parts.map((p) => [p.command, p.prev])).toEqual([
      [command, [null]],
      [command, [null]],
    ])
  })

  it('refuses a command regions do not replicate', () => {
    expect(() => splitRemoteCommand({ type: 'deleteAllDocuments', uid: 'p', at: AT }, [], 2, 'p')).toThrow(
      TypeError,
    )
  })
})

describe('appliedOverShards', () => {
  it('is the lowest position of the shards, 0 without shards', () => {
    expect(appliedOverShards([9, 4, 12])).toBe(4)
    expect(appliedOverShards([])).toBe(0)
  })
})

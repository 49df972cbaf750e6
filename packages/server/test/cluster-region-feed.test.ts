import { describe, expect, it } from 'vitest'
import {
  type ClusterFeedEntry,
  decodeClusterFeedEntry,
  encodeClusterFeedEntry,
} from '../src/internal/cluster/cluster-region-feed.ts'

// The feed format of a cluster region (docs/multi-region.md, "Regions made of clusters"):
// entries round-trip under the inter-region key; anything else is refused with its reason.

const KEY = Buffer.from('cluster-feed-test-key-0123456789')
const entry: ClusterFeedEntry = {
  origin: 'eu',
  index: 'items',
  originShard: 'shard/items/1700000000000/2',
  seq: 41,
  after: 17,
  wallMs: 1_800_000_000_000,
  logical: 3,
  prev: [[1_799_999_999_000, 0, 'us'], null],
  command: {
    type: 'addDocuments',
    uid: 'items',
    documents: [{ id: 1 }, { id: 2 }],
    primaryKey: 'id',
    merge: false,
    at: '2026-12-07T00:00:00.000Z',
  },
}

describe('cluster feed entries', () => {
  it('round-trip under the key', () => {
    expect(decodeClusterFeedEntry(encodeClusterFeedEntry(entry, KEY), KEY)).toEqual({ ok: true, entry })
  })

  it('are refused under another key (bad_mac), and when a byte changed', () => {
    const bytes = encodeClusterFeedEntry(entry, KEY)
    expect(decodeClusterFeedEntry(bytes, Buffer.from('another-key-of-enough-length-000'))).toEqual({
      ok: false,
      reason: 'bad_mac',
    })
    const forged = encodeClusterFeedEntry(
      { ...entry, seq: 42 },
      Buffer.from('another-key-of-enough-length-000'),
    )
    expect(decodeClusterFeedEntry(forged, KEY)).toEqual({ ok: false, reason: 'bad_mac' })
  })

  it('refuses bytes that are not an entry, and an entry whose after is not before it', () => {
    expect(decodeClusterFeedEntry(new Uint8Array([0xc1]), KEY)).toEqual({ ok: false, reason: 'undecodable' })
    expect(decodeClusterFeedEntry(encodeClusterFeedEntry({ ...entry, after: 41 }, KEY), KEY)).toEqual({
      ok: false,
      reason: 'undecodable',
    })
    expect(decodeClusterFeedEntry(encodeClusterFeedEntry({ ...entry, seq: 0, after: 0 }, KEY), KEY)).toEqual({
      ok: false,
      reason: 'undecodable',
    })
  })
})

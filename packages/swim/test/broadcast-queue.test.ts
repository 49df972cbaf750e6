import { describe, expect, it } from 'vitest'
import { encodeMessages } from '../src/codec.ts'
import { BroadcastQueue, estimateUpdateBytes, type Update } from '../src/core/index.ts'

describe('broadcast queue', () => {
  it('retransmits each update retransmitMult × ceil(log10(n + 1)) times, then drops it', () => {
    const queue = new BroadcastQueue(4)
    expect(queue.retransmitLimit(1000)).toBe(16)
    expect(queue.retransmitLimit(9)).toBe(4)
    queue.enqueue({ kind: 'suspect', id: 'x', incarnation: 1, from: 'a' })
    let sent = 0
    while (queue.take(1000, 9).length > 0) sent += 1
    expect(sent).toBe(4)
    expect(queue.size).toBe(0)
  })

  it('sends the least-sent first and, among equals, the newest', () => {
    const queue = new BroadcastQueue(4)
    queue.enqueue({ kind: 'suspect', id: 'old', incarnation: 1, from: 'a' })
    queue.take(1000, 100)
    queue.enqueue({ kind: 'suspect', id: 'b', incarnation: 1, from: 'a' })
    queue.enqueue({ kind: 'suspect', id: 'c', incarnation: 1, from: 'a' })
    const ids = queue.take(1000, 100).map((u) => u.id)
    expect(ids).toEqual(['c', 'b', 'old'])
  })

  it('keeps one update per member: a newer one replaces the queued one', () => {
    const queue = new BroadcastQueue(4)
    queue.enqueue({ kind: 'suspect', id: 'x', incarnation: 1, from: 'a' })
    queue.enqueue({ kind: 'alive', id: 'x', incarnation: 2, address: 'x', meta: {} })
    expect(queue.size).toBe(1)
    expect(queue.take(1000, 10)[0]).toMatchObject({ kind: 'alive', incarnation: 2 })
  })

  it('spends its retransmissions on distinct members: a member that has an update is not sent it again', () => {
    const queue = new BroadcastQueue(4)
    queue.enqueue({ kind: 'dead', id: 'x', incarnation: 1, from: 'a' })
    // 10 members: 8 transmissions; b is picked again and again, as random gossip targets can be.
    expect(queue.take(1000, 10, 'b')).toHaveLength(1)
    for (let i = 0; i < 5; i++) expect(queue.take(1000, 10, 'b')).toHaveLength(0)
    const reached = ['c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].filter(
      (to) => queue.take(1000, 10, to).length > 0,
    )
    expect(reached).toEqual(['c', 'd', 'e', 'f', 'g', 'h', 'i'])
    expect(queue.size).toBe(0)
  })

  it('sends an update to the member it is about without counting it (it spreads nothing)', () => {
    const queue = new BroadcastQueue(4)
    queue.enqueue({ kind: 'suspect', id: 'x', incarnation: 1, from: 'a' })
    // The suspect hears of it on every message (Lifeguard buddy system) and the budget is intact.
    for (let i = 0; i < 10; i++) expect(queue.take(1000, 9, 'x')).toHaveLength(1)
    let sent = 0
    for (const to of ['b', 'c', 'd', 'e', 'f', 'g']) sent += queue.take(1000, 9, to).length
    expect(sent).toBe(4)
  })

  it('does not send a member news of its own liveness', () => {
    const queue = new BroadcastQueue(4)
    queue.enqueue({ kind: 'alive', id: 'x', incarnation: 2, address: 'x', meta: {} })
    expect(queue.take(1000, 9, 'x')).toHaveLength(0)
    expect(queue.take(1000, 9, 'y')).toHaveLength(1)
  })

  it('drops an update once every other member has it, even below the retransmit limit', () => {
    const queue = new BroadcastQueue(4)
    // 3 members: the limit is 4 × ceil(log10(4)) = 4, but only two others exist.
    queue.enqueue({ kind: 'alive', id: 'a', incarnation: 1, address: 'a', meta: {} })
    expect(queue.take(1000, 3, 'b')).toHaveLength(1)
    expect(queue.take(1000, 3, 'c')).toHaveLength(1)
    expect(queue.take(1000, 3, 'b')).toHaveLength(0)
    expect(queue.size).toBe(0)
  })

  it('fits updates into the byte budget and leaves the rest queued', () => {
    const queue = new BroadcastQueue(4)
    for (let i = 0; i < 50; i++)
      queue.enqueue({ kind: 'suspect', id: `member-${i}`, incarnation: 1, from: 'a' })
    const first = queue.take(200, 100)
    expect(first.length).toBeGreaterThan(0)
    expect(first.length).toBeLessThan(50)
  })
})

describe('update size estimate', () => {
  it('is never below what the wire codec encodes', () => {
    const updates: Update[] = [
      {
        kind: 'alive',
        id: 'node-0123',
        incarnation: 12_345,
        address: '10.0.12.34:7946',
        meta: { zone: 'eu-1a' },
      },
      { kind: 'suspect', id: 'node-0123', incarnation: 70_000, from: 'node-0456' },
      { kind: 'dead', id: 'n1', incarnation: 1, from: 'n1' },
      {
        kind: 'alive',
        id: 'nöde-é',
        incarnation: 5_000_000_000,
        address: 'x'.repeat(300),
        meta: { ['k'.repeat(33)]: '😀' },
      },
    ]
    const empty = encodeMessages([{ type: 'gossip', from: 'x', updates: [] }]).byteLength
    for (const update of updates) {
      const actual = encodeMessages([{ type: 'gossip', from: 'x', updates: [update] }]).byteLength - empty
      expect(estimateUpdateBytes(update)).toBeGreaterThanOrEqual(actual)
      expect(estimateUpdateBytes(update)).toBeLessThanOrEqual(actual + 16)
    }
  })
})

import { describe, expect, it } from 'vitest'
import { BroadcastQueue } from '../src/core/index.ts'

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

  it('fits updates into the byte budget and leaves the rest queued', () => {
    const queue = new BroadcastQueue(4)
    for (let i = 0; i < 50; i++)
      queue.enqueue({ kind: 'suspect', id: `member-${i}`, incarnation: 1, from: 'a' })
    const first = queue.take(200, 100)
    expect(first.length).toBeGreaterThan(0)
    expect(first.length).toBeLessThan(50)
  })
})

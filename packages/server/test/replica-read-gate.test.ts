import { describe, expect, it } from 'vitest'
import { ReplicaReadGate } from '../src/internal/cluster/replica-read-gate.ts'

// When a restarted (or new) shard replica may serve eventual reads: never with an older state
// than it may have served before it stopped.

const settle = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('ReplicaReadGate', () => {
  it('stays closed while the replica has not applied its whole durable log', () => {
    const gate = new ReplicaReadGate()
    // Replayed up to the durable commit index (9); entry 10 was applied before the crash too.
    expect(gate.ready({ appliedIndex: 9, lastIndex: 10 })).toBe(false)
  })

  it('opens once every entry of the log is applied, and stays open', () => {
    const gate = new ReplicaReadGate()
    expect(gate.ready({ appliedIndex: 10, lastIndex: 10 })).toBe(true)
    // New entries arriving later do not close it: the state only moves forward.
    expect(gate.ready({ appliedIndex: 10, lastIndex: 14 })).toBe(true)
  })

  it('does not open on an empty log: a new replica waits for its leader', () => {
    const gate = new ReplicaReadGate()
    expect(gate.ready({ appliedIndex: 0, lastIndex: 0 })).toBe(false)
  })

  it("opens once the leader's read point is applied", async () => {
    const gate = new ReplicaReadGate()
    gate.establish(async () => 12)
    await settle()
    expect(gate.floor).toBe(12)
    // A tail of entries a new leader replaced keeps the whole-log rule from ever holding.
    expect(gate.ready({ appliedIndex: 11, lastIndex: 15 })).toBe(false)
    expect(gate.ready({ appliedIndex: 12, lastIndex: 15 })).toBe(true)
  })

  it('asks the leader once at a time, and again after no leader answered', async () => {
    const gate = new ReplicaReadGate()
    let asked = 0
    let answer: (point: number | null) => void = () => {}
    const ask = () => {
      asked++
      return new Promise<number | null>((resolve) => {
        answer = resolve
      })
    }
    gate.establish(ask)
    gate.establish(ask)
    expect(asked).toBe(1)
    answer(null)
    await settle()
    expect(gate.floor).toBeNull()
    gate.establish(ask)
    expect(asked).toBe(2)
    answer(7)
    await settle()
    gate.establish(ask)
    expect(asked).toBe(2)
    expect(gate.ready({ appliedIndex: 7, lastIndex: 9 })).toBe(true)
  })

  it('survives a failed request to the leader', async () => {
    const gate = new ReplicaReadGate()
    gate.establish(() => Promise.reject(new Error('unreachable')))
    await settle()
    await settle()
    expect(gate.floor).toBeNull()
    expect(gate.ready({ appliedIndex: 3, lastIndex: 4 })).toBe(false)
  })
})
